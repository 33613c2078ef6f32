// What a worker does with each engine event: route requests (PROTOCOL.md
// section 1), hold polls and tell the manager, answer timeouts, forget polls
// whose peer left, and answer deliveries from the manager.
import type { Config } from '../config.js';
import { HttpError, errorBody, type HttpErrorKind } from '../errors.js';
import {
  EVENT_HEADER_BYTES,
  EVENT_OFFSET,
  EventType,
  Method,
  ResponseKind,
  makeHandle,
  type NativeEngine,
} from '../native.js';
import { verifyToken } from '../client/token.js';
import { HeldPolls } from './held-polls.js';
import { wrapJsonp } from './jsonp.js';
import { jsonpErrorBody } from './poll-responses.js';
import { emptyPollBody } from '../poll-body.js';
import { parsePollQuery, type PollQueryError } from './poll-query.js';

/** How the worker reaches the manager (a ring in production, a fake in tests). */
export interface ManagerPort {
  poll(handle: number, since: number, client: string): void;
  gone(handle: number, client: string): void;
}

const ALLOW_POLL = 'Allow: GET, OPTIONS\r\n';
const ALLOW_HEALTH = 'Allow: GET, HEAD\r\n';
const PREFLIGHT_MAX_AGE_S = 86400;

export class RequestHandler {
  readonly held = new HeldPolls();
  private bytes: Buffer;

  constructor(
    private readonly engine: NativeEngine,
    private readonly config: Config,
    private readonly manager: ManagerPort,
  ) {
    this.bytes = Buffer.from(engine.events);
  }

  /** The engine's EventsCallback: reads `count` records from the event buffer. */
  onEvents(count: number, _bytes: number): void {
    // The engine may swap in a larger buffer; re-wrap it only then.
    if (this.bytes.buffer !== this.engine.events) this.bytes = Buffer.from(this.engine.events);
    const b = this.bytes;
    let offset = 0;
    for (let i = 0; i < count; i++) {
      const type = b[offset + EVENT_OFFSET.type]!;
      const targetLen = b.readUInt16LE(offset + EVENT_OFFSET.targetLen);
      const acrhLen = b.readUInt16LE(offset + EVENT_OFFSET.acrhLen);
      const handle = makeHandle(b.readUInt32LE(offset + EVENT_OFFSET.fd), b.readUInt32LE(offset + EVENT_OFFSET.gen));
      const body = offset + EVENT_HEADER_BYTES;
      if (type === EventType.Request) {
        const method = b[offset + EVENT_OFFSET.method]!;
        const target = b.toString('latin1', body, body + targetLen);
        const acrh = acrhLen === 0 ? '' : b.toString('latin1', body + targetLen, body + targetLen + acrhLen);
        this.onRequest(handle, method, target, acrh);
      } else if (type === EventType.Timeout) {
        this.onTimeout(handle);
      } else if (type === EventType.Closed) {
        this.onClosed(handle);
      }
      offset += (EVENT_HEADER_BYTES + targetLen + acrhLen + 3) & ~3;
    }
  }

  /** A DELIVER from the manager: answer the held poll, unless it ended meanwhile (then the messages stay queued). */
  deliver(handle: number, body: Buffer): void {
    const poll = this.held.take(handle);
    if (poll === undefined) return;
    if (poll.callback === undefined) {
      this.engine.respond(handle, 200, ResponseKind.Json, body, null);
    } else {
      this.engine.respond(handle, 200, ResponseKind.Jsonp, wrapJsonp(poll.callback, body.toString('utf8')), null);
    }
  }

  /** Shutdown: every held poll gets its empty answer; the manager forgets them. */
  releaseAll(): void {
    for (const handle of this.held.allHandles()) this.answerEmpty(handle);
  }

  private onRequest(handle: number, method: number, target: string, acrh: string): void {
    const q = target.indexOf('?');
    const path = q === -1 ? target : target.slice(0, q);
    if (path === '/poll') {
      if (method === Method.Get) this.onPoll(handle, q === -1 ? '' : target.slice(q + 1));
      else if (method === Method.Options) this.preflight(handle, acrh);
      else this.error(handle, HttpError.methodNotAllowed, 'use GET (or OPTIONS) on /poll', ALLOW_POLL);
    } else if (path === '/health') {
      if (method === Method.Get || method === Method.Head) this.engine.respond(handle, 200, ResponseKind.Text, 'ok', null);
      else this.error(handle, HttpError.methodNotAllowed, 'use GET or HEAD on /health', ALLOW_HEALTH);
    } else {
      this.error(handle, HttpError.notFound, 'no such path: use /poll or /health', null);
    }
  }

  private onPoll(handle: number, query: string): void {
    const parsed = parsePollQuery(query);
    if (!parsed.ok) return this.pollError(handle, HttpError.badRequest, parsed.error);
    const { client, since, callback, token } = parsed.params;
    if (this.config.secret !== undefined) {
      if (token === undefined || token.length === 0) {
        return this.pollError(handle, HttpError.forbidden, { message: 'parameter "token" is required by this server', callback });
      }
      if (!verifyToken(this.config.secret, client, token, Math.floor(Date.now() / 1000))) {
        return this.pollError(handle, HttpError.forbidden, { message: 'the token is invalid or expired for this client', callback });
      }
    }
    if (!this.engine.hold(handle, this.config.pollTimeoutMs)) return;
    this.held.add(handle, client, since, callback);
    this.manager.poll(handle, since, client);
  }

  private onTimeout(handle: number): void {
    this.answerEmpty(handle);
  }

  private onClosed(handle: number): void {
    const poll = this.held.take(handle);
    if (poll !== undefined) this.manager.gone(handle, poll.client);
  }

  private answerEmpty(handle: number): void {
    const poll = this.held.take(handle);
    if (poll === undefined) return;
    const body = emptyPollBody(poll.since);
    if (poll.callback === undefined) this.engine.respond(handle, 200, ResponseKind.Json, body, null);
    else this.engine.respond(handle, 200, ResponseKind.Jsonp, wrapJsonp(poll.callback, body), null);
    this.manager.gone(handle, poll.client);
  }

  private preflight(handle: number, acrh: string): void {
    let headers = `Access-Control-Allow-Methods: GET, OPTIONS\r\nAccess-Control-Max-Age: ${PREFLIGHT_MAX_AGE_S}\r\n`;
    if (acrh.length > 0) headers += `Access-Control-Allow-Headers: ${acrh}\r\n`;
    this.engine.respond(handle, 204, ResponseKind.None, null, headers);
  }

  private pollError(handle: number, kind: HttpErrorKind, error: PollQueryError): void {
    if (error.callback !== undefined) {
      this.engine.respond(handle, 200, ResponseKind.Jsonp, jsonpErrorBody(error.callback, kind, error.message), null);
    } else {
      this.error(handle, kind, error.message, null);
    }
  }

  private error(handle: number, kind: HttpErrorKind, message: string, extraHeaders: string | null): void {
    this.engine.respond(handle, kind.status, ResponseKind.Json, errorBody(kind, message), extraHeaders);
  }
}
