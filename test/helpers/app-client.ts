// A minimal client for the app side (PROTOCOL.md section 2): newline-delimited
// JSON over TCP. Lines are written as given (so tests can send broken JSON,
// \r\n, blank lines, oversized lines) and reply lines are read strictly in
// order, which is what lets a test pair replies with pipelined requests.
import { connect, type Socket } from 'node:net';
import type { Test } from 'tap';
import type { StatsReply } from '../../src/protocol/stats.js';

/** A reply line, parsed. Keys beyond these are allowed by the protocol. */
export interface AppReply {
  ok: boolean;
  error?: string;
  message?: string;
  id?: number;
  ids?: number[];
  connected?: boolean;
  queued?: number;
  ref?: unknown;
  [key: string]: unknown;
}

/** The stats reply: the one shape of src/protocol/stats.ts (the server may add keys). */
export type Stats = StatsReply & AppReply;

export class AppConnection {
  readonly socket: Socket;
  private text = '';
  private lines: string[] = [];
  /** Readers waiting for a line, served first come first served so concurrent requests pair with their replies. */
  private readers: Array<{ resolve: (line: string) => void; reject: (err: Error) => void }> = [];
  private closedFlag = false;
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.text += chunk;
      let nl: number;
      while ((nl = this.text.indexOf('\n')) >= 0) {
        const line = this.text.slice(0, nl);
        this.text = this.text.slice(nl + 1);
        const reader = this.readers.shift();
        if (reader !== undefined) reader.resolve(line);
        else this.lines.push(line);
      }
    });
    socket.on('error', () => {
      // The close that follows is what tests look at.
    });
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.closedFlag = true;
        const readers = this.readers;
        this.readers = [];
        for (const r of readers) r.reject(new Error(`app connection closed while waiting for a reply line (partial: ${JSON.stringify(this.text)})`));
        resolve();
      });
    });
  }

  /** Connects to the app port on 127.0.0.1; if `t` is given the socket is destroyed in its teardown. */
  static open(port: number, t?: Test): Promise<AppConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1' });
      socket.setNoDelay(true);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        const conn = new AppConnection(socket);
        t?.teardown(() => conn.destroy());
        resolve(conn);
      });
    });
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  /** Reply lines received and not read yet. */
  get bufferedLines(): readonly string[] {
    return this.lines;
  }

  /** Writes raw bytes (no newline added). */
  writeRaw(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Writes raw bytes and resolves once they are handed to the kernel. */
  writeAll(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Writes `request` as one JSON line. */
  send(request: unknown): void {
    this.socket.write(`${JSON.stringify(request)}\n`);
  }

  /** Reads the next reply line (without its \n), in order. */
  readLine(timeoutMs = 10_000): Promise<string> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.closedFlag) {
      return Promise.reject(new Error(`app connection closed while waiting for a reply line (partial: ${JSON.stringify(this.text)})`));
    }
    return new Promise((resolve, reject) => {
      const reader = {
        resolve: (l: string): void => {
          clearTimeout(timer);
          resolve(l);
        },
        reject: (err: Error): void => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        this.readers = this.readers.filter((r) => r !== reader);
        reject(new Error(`no reply line within ${timeoutMs} ms`));
      }, timeoutMs);
      this.readers.push(reader);
    });
  }

  async readReply(timeoutMs = 10_000): Promise<AppReply> {
    const line = await this.readLine(timeoutMs);
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new Error(`reply line is not JSON: ${JSON.stringify(line)}`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value) || typeof (value as { ok?: unknown }).ok !== 'boolean') {
      throw new Error(`reply line is not an object with a boolean "ok": ${line}`);
    }
    return value as AppReply;
  }

  /** Sends one request and reads its reply (safe to call concurrently: replies come in request order). */
  request(request: unknown, timeoutMs = 10_000): Promise<AppReply> {
    this.send(request);
    return this.readReply(timeoutMs);
  }

  /** Sends a message to one client; throws unless the reply is ok with an id. */
  async sendTo(client: string, data: unknown): Promise<number> {
    const reply = await this.request({ op: 'send', client, data });
    if (reply.ok !== true || typeof reply.id !== 'number') throw new Error(`send to ${client} failed: ${JSON.stringify(reply)}`);
    return reply.id;
  }

  async status(client: string): Promise<{ connected: boolean; queued: number }> {
    const reply = await this.request({ op: 'status', client });
    if (reply.ok !== true || typeof reply.connected !== 'boolean' || typeof reply.queued !== 'number') {
      throw new Error(`status of ${client} failed: ${JSON.stringify(reply)}`);
    }
    return { connected: reply.connected, queued: reply.queued };
  }

  async stats(): Promise<Stats> {
    const reply = await this.request({ op: 'stats' });
    if (reply.ok !== true || !Array.isArray(reply.threads)) throw new Error(`stats failed: ${JSON.stringify(reply)}`);
    return reply as Stats;
  }

  /**
   * Resolves true if the server closes the connection within `timeoutMs` (by
   * default a generous deadline for a close that should come at once). To show
   * that a connection stays open, get an answer on it instead.
   */
  async waitClosed(timeoutMs = 10_000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const still = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const result = await Promise.race([this.closed.then(() => true as const), still]);
    clearTimeout(timer);
    return result;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
