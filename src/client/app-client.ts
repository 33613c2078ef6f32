// A small typed client for the app port (PROTOCOL.md section 2), for apps and
// tests. Requests may be issued without waiting: replies come back in request
// order, so each is matched to the oldest request still waiting.
//
// When the connection is lost (a server restart, a handover to a new
// process), the client reconnects by itself with backoff (and authenticates
// again when it was given the secret). It never re-sends on its own: a
// request that was written and not answered may or may not have been carried
// out, so it is rejected with SendOutcomeUnknownError for the app to decide.
// Requests made while disconnected wait and are written after reconnecting.

import { connect, type Socket } from 'node:net';
import type { AppErrorCode } from '../protocol/errors.js';
import type { StatsReply } from '../protocol/stats.js';
import { Backoff, type BackoffOptions } from './backoff.js';

export interface AppClientOptions {
  /** Default 127.0.0.1. */
  host?: string;
  port: number;
  /** The server's --app-secret: sent as the first request of every connection. */
  secret?: string;
  /** Reconnect after a lost connection (default: on, 100 ms doubling to 5 s); false closes the client instead. */
  reconnect?: BackoffOptions | false;
  /** Told of every change of the connection's state. */
  onState?: (state: AppClientState) => void;
}

/** connected: requests go out; reconnecting: they wait; closed: they are rejected (close(), or reconnect: false). */
export type AppClientState = 'connected' | 'reconnecting' | 'closed';

export interface ClientStatus {
  connected: boolean;
  /** Unacknowledged, unexpired messages, pending group publishes included. */
  queued: number;
  /** The groups the client is in, in no set order. */
  groups: string[];
}

/** What `publish` answers: one id for every member; queued for `queued` members, refused for `full` ones at --max-queue. */
export interface PublishOutcome {
  id: number;
  queued: number;
  full: number;
}

/** What `group` answers: the member count, and member ids when asked for (`limit`). */
export interface GroupInfo {
  members: number;
  clients?: string[];
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

/**
 * The connection was lost after this request was written and before its
 * reply came: the server may or may not have carried it out (a send may have
 * been queued). The client does not re-send it; `line` is what was written.
 */
export class SendOutcomeUnknownError extends Error {
  readonly line: string;
  constructor(line: string, cause: Error) {
    super(`the connection was lost before the reply (${cause.message}); the request may or may not have been carried out: ${line.slice(0, 200)}`);
    this.name = 'SendOutcomeUnknownError';
    this.line = line;
  }
}

interface Pending {
  readonly line: string;
  resolve(reply: AppReply): void;
  reject(err: Error): void;
}

export class AppClient {
  private socket: Socket;
  /** Written, waiting for their replies, oldest first. */
  private inFlight: Pending[] = [];
  /** Made while disconnected, not written yet. */
  private waiting: Pending[] = [];
  private buffered = '';
  private state: AppClientState = 'connected';
  private closedError: Error | null = null;
  private readonly backoff: Backoff | null;
  private retryTimer: NodeJS.Timeout | null = null;

  private constructor(
    socket: Socket,
    private readonly options: AppClientOptions,
  ) {
    this.backoff = options.reconnect === false ? null : new Backoff(options.reconnect ?? {});
    this.socket = socket;
    this.attach(socket);
  }

  /** Connects (the first connection is not retried: an error rejects) and authenticates if given the secret. */
  static async connect(options: AppClientOptions): Promise<AppClient> {
    const socket = await openSocket(options);
    const client = new AppClient(socket, options);
    if (options.secret !== undefined) {
      try {
        await client.auth(options.secret);
      } catch (err) {
        await client.close();
        throw err;
      }
    }
    return client;
  }

  get connectionState(): AppClientState {
    return this.state;
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
    return { connected: reply.connected as boolean, queued: reply.queued as number, groups: reply.groups as string[] };
  }

  /**
   * Puts `clients` (one id, or 1 to 10,000 distinct ids, all or nothing) in
   * `group`; resolves to the group's member count after. Rejects with
   * AppRequestError `too_many_groups` or `memory_full` (nobody joined).
   */
  async join(clients: string | readonly string[], group: string): Promise<number> {
    const reply = await this.call(typeof clients === 'string' ? { op: 'join', client: clients, group } : { op: 'join', clients, group });
    return reply.members as number;
  }

  /**
   * Takes `clients` out of `group`, all or nothing; resolves to the member
   * count after (0: the group is gone). Rejects with `unknown_group` or
   * `not_member` (nobody left). Publishes already queued for them stay queued.
   */
  async leave(clients: string | readonly string[], group: string): Promise<number> {
    const reply = await this.call(typeof clients === 'string' ? { op: 'leave', client: clients, group } : { op: 'leave', clients, group });
    return reply.members as number;
  }

  /** Queues `data` (serialised with JSON.stringify) once for every member of `group`, under one id. Rejects with `unknown_group` or `memory_full`. */
  async publish(group: string, data: unknown): Promise<PublishOutcome> {
    const reply = await this.call({ op: 'publish', group, data: jsonValue(data) });
    return { id: reply.id as number, queued: reply.queued as number, full: reply.full as number };
  }

  /** The group's member count, and with `limit` (0 to 10,000) up to that many member ids. Rejects with `unknown_group`. */
  async group(group: string, limit?: number): Promise<GroupInfo> {
    const reply = await this.call(limit === undefined ? { op: 'group', group } : { op: 'group', group, limit });
    const info: GroupInfo = { members: reply.members as number };
    if (limit !== undefined) info.clients = reply.clients as string[];
    return info;
  }

  async stats(): Promise<ServerStats> {
    return (await this.call({ op: 'stats' })) as unknown as ServerStats;
  }

  /** Authenticates this connection (servers started with --app-secret). Pass the secret in the options to have it done on every reconnect. */
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
      const pending: Pending = { line, resolve, reject };
      if (this.state === 'connected') this.write(pending);
      else this.waiting.push(pending);
    });
  }

  /** Closes the connection for good; requests still waiting are rejected. */
  close(): Promise<void> {
    this.finish(new Error('the app client was closed'));
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.end();
    });
  }

  private write(pending: Pending): void {
    this.inFlight.push(pending);
    this.socket.write(pending.line + '\n');
  }

  private attach(socket: Socket): void {
    socket.setEncoding('utf8');
    socket.setNoDelay(true);
    socket.on('data', (text: string) => this.onData(text));
    // 'close' follows every error; the error only says why.
    let lastError: Error | null = null;
    socket.on('error', (err) => (lastError = err));
    socket.on('close', () => this.onLost(lastError ?? new Error('the app connection closed')));
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
      const pending = this.inFlight.shift();
      if (pending === undefined) {
        this.socket.destroy(new Error(`the server sent a reply no request waits for: ${line.slice(0, 200)}`));
        return;
      }
      try {
        pending.resolve(JSON.parse(line) as AppReply);
      } catch {
        pending.reject(new Error(`the server sent a reply that is not JSON: ${line.slice(0, 200)}`));
      }
    }
  }

  private onLost(cause: Error): void {
    if (this.state === 'closed') return;
    this.buffered = '';
    // Written and unanswered: the server may have carried them out. Never re-sent.
    for (const pending of this.inFlight.splice(0)) pending.reject(new SendOutcomeUnknownError(pending.line, cause));
    if (this.backoff === null) {
      this.finish(cause);
      return;
    }
    this.setState('reconnecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      openSocket(this.options).then(
        (socket) => this.onReconnected(socket),
        () => {
          if (this.state === 'reconnecting') this.scheduleReconnect();
        },
      );
    }, this.backoff!.next());
  }

  private onReconnected(socket: Socket): void {
    if (this.state === 'closed') {
      socket.destroy();
      return;
    }
    this.socket = socket;
    this.attach(socket);
    this.backoff!.reset();
    this.setState('connected');
    // The auth goes first, then the requests that waited, in the order they were made.
    const waiting = this.waiting.splice(0);
    if (this.options.secret !== undefined) {
      this.write({ line: JSON.stringify({ op: 'auth', secret: this.options.secret }), resolve: () => undefined, reject: () => undefined });
    }
    for (const pending of waiting) this.write(pending);
  }

  private finish(err: Error): void {
    if (this.state === 'closed') return;
    this.closedError = err;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    for (const pending of this.inFlight.splice(0)) pending.reject(err);
    for (const pending of this.waiting.splice(0)) pending.reject(err);
    this.setState('closed');
    this.socket.destroy();
  }

  private setState(state: AppClientState): void {
    if (this.state === state) return;
    this.state = state;
    this.options.onState?.(state);
  }
}

function openSocket(options: AppClientOptions): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: options.host ?? '127.0.0.1', port: options.port });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

/** JSON.stringify(data) as a value for a request object, refusing what JSON cannot carry. */
function jsonValue(data: unknown): unknown {
  if (data === undefined || typeof data === 'function' || typeof data === 'symbol') {
    throw new TypeError('data must be a JSON value (undefined, functions and symbols cannot be sent)');
  }
  return data;
}
