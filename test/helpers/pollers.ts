// Long-polling clients for end-to-end tests that span server processes (the
// takeover tests): each keeps one keep-alive connection, re-polls with the
// last cursor it got, and connects again whenever the server closes the
// connection (a process that drains closes each one after its answer), as a
// browser would. Each records the data of every message it receives, in
// order, so a test can check exactly-once, in-order delivery per client.
import { connect, type Socket } from 'node:net';

/** Before connecting again after a connection failed or was closed without an answer. */
const RETRY_MS = 50;

export interface PollerCounts {
  polls: number;
  /** Answers with messages / empty answers. */
  deliveries: number;
  empty: number;
  /** Connections that ended (closed by the server after an answer, reset, refused). */
  reconnects: number;
  /** Answers other than 200, or bodies that are not poll bodies. */
  errors: number;
}

export class Poller {
  cursor = 0;
  /** Every message's data, parsed, in the order received. */
  readonly messages: unknown[] = [];
  private socket: Socket | null = null;
  private buffer: Buffer = Buffer.alloc(0);
  private stopped = false;
  private retry: NodeJS.Timeout | null = null;

  constructor(
    readonly client: string,
    private readonly port: number,
    private readonly counts: PollerCounts,
    private readonly onMessages: (poller: Poller) => void = () => undefined,
    /** After an answer with messages, wait this long before polling again (a slow client: its messages queue up meanwhile). */
    private readonly pauseMs = 0,
  ) {}

  start(): void {
    this.open();
  }

  stop(): void {
    this.stopped = true;
    if (this.retry !== null) clearTimeout(this.retry);
    this.socket?.destroy();
  }

  private open(): void {
    if (this.stopped) return;
    const socket = connect({ host: '127.0.0.1', port: this.port });
    this.socket = socket;
    this.buffer = Buffer.alloc(0);
    socket.setNoDelay(true);
    socket.on('connect', () => this.poll());
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.socket !== socket || this.stopped) return;
      this.counts.reconnects++;
      this.socket = null;
      this.retry = setTimeout(() => {
        this.retry = null;
        this.open();
      }, RETRY_MS);
    });
  }

  private poll(): void {
    this.counts.polls++;
    this.socket!.write(`GET /poll?client=${this.client}&since=${this.cursor} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.buffer.toString('latin1', 0, end);
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 'NaN');
      if (!Number.isFinite(length)) {
        this.counts.errors++;
        this.socket?.destroy();
        return;
      }
      if (this.buffer.length < end + 4 + length) return;
      const body = this.buffer.toString('utf8', end + 4, end + 4 + length);
      this.buffer = this.buffer.subarray(end + 4 + length);
      const close = /\r\nconnection: *close/i.test(head);
      this.onAnswer(head, body);
      if (this.stopped) return;
      // The server closes after this answer (it drains): poll again on a new connection, at once.
      if (close) {
        const old = this.socket;
        this.socket = null;
        old?.destroy();
        this.counts.reconnects++;
        this.open();
        return;
      }
      if (this.pauseMs > 0 && this.messages.length > 0 && this.lastAnswerHadMessages) {
        const socket = this.socket;
        this.retry = setTimeout(() => {
          this.retry = null;
          if (this.socket === socket && socket !== null && !this.stopped) this.poll();
        }, this.pauseMs);
      } else {
        this.poll();
      }
    }
  }

  private lastAnswerHadMessages = false;

  private onAnswer(head: string, body: string): void {
    this.lastAnswerHadMessages = false;
    if (!head.startsWith('HTTP/1.1 200')) {
      this.counts.errors++;
      return;
    }
    let parsed: { cursor?: unknown; messages?: unknown };
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch {
      this.counts.errors++;
      return;
    }
    if (typeof parsed.cursor !== 'number' || !Array.isArray(parsed.messages)) {
      this.counts.errors++;
      return;
    }
    this.cursor = parsed.cursor;
    if (parsed.messages.length === 0) {
      this.counts.empty++;
      return;
    }
    this.counts.deliveries++;
    this.lastAnswerHadMessages = true;
    for (const m of parsed.messages) this.messages.push(m);
    this.onMessages(this);
  }
}

/** Many pollers, one per client id. */
export class PollerFleet {
  readonly counts: PollerCounts = { polls: 0, deliveries: 0, empty: 0, reconnects: 0, errors: 0 };
  readonly pollers: Poller[];

  /** `pauseMs(i)`: how long client i waits after each answer with messages before it polls again. */
  constructor(port: number, clients: readonly string[], onMessages?: (poller: Poller) => void, pauseMs: (index: number) => number = () => 0) {
    this.pollers = clients.map((c, i) => new Poller(c, port, this.counts, onMessages, pauseMs(i)));
  }

  start(): void {
    for (const p of this.pollers) p.start();
  }

  stop(): void {
    for (const p of this.pollers) p.stop();
  }
}
