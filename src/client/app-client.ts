// A small typed client for the app port (PROTOCOL.md section 2), for apps and
// tests. Requests may be issued without waiting: replies come back in request
// order, so each is matched to the oldest request still waiting.

import { connect, type Socket } from 'node:net';
import type { AppErrorCode } from '../protocol/errors.js';
import type { StatsReply } from '../protocol/stats.js';

export interface AppClientOptions {
  /** Default 127.0.0.1. */
  host?: string;
  port: number;
}

export interface ClientStatus {
  connected: boolean;
  queued: number;
}

/** The `stats` reply (src/protocol/stats.ts has every key, with its meaning). */
export type ServerStats = StatsReply;

/** A reply line, parsed. */
export type AppReply = { ok: true; [key: string]: unknown } | { ok: false; error: AppErrorCode; message: string; [key: string]: unknown };

/** The server answered a request with an error reply. */
export class AppRequestError extends Error {
  readonly code: AppErrorCode;
  constructor(code: AppErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'AppRequestError';
    this.code = code;
  }
}

interface Waiter {
  resolve(reply: AppReply): void;
  reject(err: Error): void;
}

export class AppClient {
  private readonly socket: Socket;
  private readonly waiting: Waiter[] = [];
  private buffered = '';
  private closedError: Error | null = null;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.setNoDelay(true);
    socket.on('data', (text: string) => this.onData(text));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('the app connection closed')));
  }

  static connect(options: AppClientOptions): Promise<AppClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: options.host ?? '127.0.0.1', port: options.port });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new AppClient(socket));
      });
    });
  }

  /** Queues `data` (serialised with JSON.stringify) for `client`; resolves to the message id. */
  async send(client: string, data: unknown): Promise<number> {
    const reply = await this.call({ op: 'send', client, data: jsonValue(data) });
    return reply.id as number;
  }

  /** Queues `data` for every one of `clients`, all or nothing; resolves to the ids in the order of `clients`. */
  async sendMany(clients: readonly string[], data: unknown): Promise<number[]> {
    const reply = await this.call({ op: 'send', clients, data: jsonValue(data) });
    return reply.ids as number[];
  }

  async status(client: string): Promise<ClientStatus> {
    const reply = await this.call({ op: 'status', client });
    return { connected: reply.connected as boolean, queued: reply.queued as number };
  }

  async stats(): Promise<ServerStats> {
    return (await this.call({ op: 'stats' })) as unknown as ServerStats;
  }

  /** Authenticates this connection (servers started with --app-secret). */
  async auth(secret: string): Promise<void> {
    await this.call({ op: 'auth', secret });
  }

  /**
   * Sends one raw request line (a JSON object's text, no line end) and resolves
   * to its reply, error replies included: for data that must go byte for byte
   * (big integers) and for tests.
   */
  request(line: string): Promise<AppReply> {
    if (line.includes('\n')) return Promise.reject(new Error('a request line must not contain a newline'));
    if (this.closedError !== null) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.socket.write(line + '\n');
    });
  }

  /** Closes the connection; requests still waiting are rejected. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.end();
    });
  }

  private async call(request: Record<string, unknown>): Promise<AppReply & { ok: true }> {
    const reply = await this.request(JSON.stringify(request));
    if (!reply.ok) throw new AppRequestError(reply.error, reply.message);
    return reply;
  }

  private onData(text: string): void {
    this.buffered += text;
    let lf: number;
    while ((lf = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, lf);
      this.buffered = this.buffered.slice(lf + 1);
      const waiter = this.waiting.shift();
      if (waiter === undefined) {
        this.fail(new Error(`the server sent a reply no request waits for: ${line.slice(0, 200)}`));
        return;
      }
      try {
        waiter.resolve(JSON.parse(line) as AppReply);
      } catch {
        waiter.reject(new Error(`the server sent a reply that is not JSON: ${line.slice(0, 200)}`));
      }
    }
  }

  private fail(err: Error): void {
    if (this.closedError === null) this.closedError = err;
    for (const waiter of this.waiting.splice(0)) waiter.reject(err);
    this.socket.destroy();
  }
}

/** JSON.stringify(data) as a value for a request object, refusing what JSON cannot carry. */
function jsonValue(data: unknown): unknown {
  if (data === undefined || typeof data === 'function' || typeof data === 'symbol') {
    throw new TypeError('data must be a JSON value (undefined, functions and symbols cannot be sent)');
  }
  return data;
}
