// A raw event-stream reader for the /events tests: one TCP connection, the
// response head parsed by hand, then the body split into events exactly as
// the EventSource spec says (lines end in \r\n, \r or \n; "field: value";
// data lines joined with \n; ":" comments). Every wait is on bytes arriving
// or the socket closing, never on time.
import { connect, type Socket } from 'node:net';
import type { Test } from 'tap';

export interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
}

export interface SseHead {
  status: number;
  headers: Record<string, string>;
}

export class SseStream {
  head: SseHead | undefined;
  /** Body bytes of a response that is not a stream (an error), once the connection closed or Content-Length arrived. */
  body = '';
  readonly events: SseEvent[] = [];
  comments = 0;
  retry: number | undefined;
  closed = false;
  private raw = Buffer.alloc(0);
  private text = '';
  private pendingData: string[] = [];
  private pendingId: string | undefined;
  private pendingEvent = '';
  private hasData = false;
  private waiters: Array<() => void> = [];
  private taken = 0;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  /** Opens `target` on 127.0.0.1:`port` with `headers`; resolves once the response head is in. */
  static async open(port: number, target: string, headers: Record<string, string> = {}, t?: Test): Promise<SseStream> {
    const socket = connect(port, '127.0.0.1');
    const stream = new SseStream(socket);
    t?.teardown(() => socket.destroy());
    let request = `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n`;
    for (const [k, v] of Object.entries(headers)) request += `${k}: ${v}\r\n`;
    socket.write(request + '\r\n');
    await stream.until(() => stream.head !== undefined || stream.closed, 'the response head');
    return stream;
  }

  /** Resolves once `done()` holds; rejects after `ms` naming `what`. */
  until(done: () => boolean, what: string, ms = 20_000): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      const check = (): void => {
        if (done()) {
          clearTimeout(timer);
          resolve();
        } else {
          this.waiters.push(check);
        }
      };
      this.waiters.push(check);
    });
  }

  /** The next event not yet taken. */
  async next(ms = 20_000): Promise<SseEvent> {
    await this.until(() => this.events.length > this.taken || this.closed, 'an event', ms);
    if (this.events.length <= this.taken) throw new Error('the stream closed before the next event');
    return this.events[this.taken++]!;
  }

  /** The next `n` events. */
  async take(n: number, ms = 20_000): Promise<SseEvent[]> {
    await this.until(() => this.events.length >= this.taken + n || this.closed, `${n} events`, ms);
    if (this.events.length < this.taken + n) throw new Error(`the stream closed after ${this.events.length - this.taken} of ${n} events`);
    const out = this.events.slice(this.taken, this.taken + n);
    this.taken += n;
    return out;
  }

  waitClosed(ms = 20_000): Promise<void> {
    return this.until(() => this.closed, 'the stream to close', ms);
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.head === undefined) {
      this.raw = Buffer.concat([this.raw, chunk]);
      const end = this.raw.indexOf('\r\n\r\n');
      if (end === -1) return;
      const lines = this.raw.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(lines[0]!.split(' ')[1]);
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      this.head = { status, headers };
      chunk = this.raw.subarray(end + 4);
      this.raw = Buffer.alloc(0);
    }
    if (this.head.status !== 200) {
      this.body += chunk.toString('utf8');
    } else {
      this.text += chunk.toString('utf8');
      this.parse();
    }
    this.wake();
  }

  private parse(): void {
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.text);
      // A lone \r at the end may be the first half of \r\n: wait for the next byte.
      if (m === null || (m[0] === '\r' && m.index === this.text.length - 1)) return;
      const line = this.text.slice(0, m.index);
      this.text = this.text.slice(m.index + m[0].length);
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === '') {
      if (this.hasData) {
        this.events.push({ id: this.pendingId, event: this.pendingEvent || 'message', data: this.pendingData.join('\n') });
      }
      this.pendingData = [];
      this.pendingEvent = '';
      this.hasData = false;
      return;
    }
    if (line.startsWith(':')) {
      this.comments++;
      return;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      this.pendingData.push(value);
      this.hasData = true;
    } else if (field === 'id') {
      this.pendingId = value;
    } else if (field === 'event') {
      this.pendingEvent = value;
    } else if (field === 'retry') {
      this.retry = Number(value);
    }
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
