// What a worker does with each engine event: route requests (PROTOCOL.md
// section 1), hold polls and tell the manager, answer timeouts, forget polls
// whose peer left, and answer the manager's deliveries and releases.
import type { Config } from '../config.js';
import { ResponseKind, type NativeEngine } from '../engine/binding.js';
import { EventBytes, Method, readEvents, type EngineEventHandler } from '../engine/events.js';
import { HTTP_ERRORS, httpErrorBody, type HttpErrorCode } from '../protocol/errors.js';
import { jsonpErrorBody, wrapJsonp } from '../protocol/jsonp.js';
import { emptyPollBody, replacedPollBody } from '../protocol/poll-body.js';
import { verifyToken } from '../protocol/token.js';
import { EventStreams } from './event-streams.js';
import { HeldPolls, NOT_HELD } from './held-polls.js';
import type { ManagerPort, ManagerRecordHandler } from './manager-port.js';
import { parsePollQuery, type PollQueryError } from './poll-query.js';

const ALLOW_POLL = 'Allow: GET, OPTIONS\r\n';
const ALLOW_HEALTH = 'Allow: GET, HEAD\r\n';
const PREFLIGHT_MAX_AGE_S = 86400;

export class RequestHandler implements EngineEventHandler, ManagerRecordHandler {
  readonly held = new HeldPolls();
  private readonly eventBytes = new EventBytes();
  private readonly streams: EventStreams;

  constructor(
    private readonly engine: NativeEngine,
    private readonly config: Config,
    private readonly manager: ManagerPort,
  ) {
    this.streams = new EventStreams(engine, config, manager, this.held, (handle, code, message) => this.error(handle, code, message, null));
  }

  /** The engine's EventsCallback: reads `count` records from the event buffer. */
  onEvents(count: number): void {
    readEvents(this.eventBytes.view(this.engine.events), count, this);
  }

  /** A DELIVER from the manager: answer the held poll, unless it ended meanwhile (then the messages stay queued). */
  deliver(handle: number, body: Buffer): void {
    if (this.held.isStream(handle)) return this.streams.write(handle, body);
    if (this.held.take(handle) === NOT_HELD) return;
    const callback = this.held.takenCallback;
    if (callback === undefined) {
      this.engine.respond(handle, 200, ResponseKind.Json, body, null);
    } else {
      this.engine.respond(handle, 200, ResponseKind.Jsonp, wrapJsonp(callback, body.toString('utf8')), null);
    }
  }

  /** A RELEASE from the manager (a newer poll of the client replaced this one): answer it empty with its cursor. */
  release(handle: number): void {
    if (this.held.isStream(handle)) this.streams.replaced(handle);
    else this.answerEmpty(handle, false, true);
  }

  /** Shutdown: every held poll gets its empty answer, every stream ends; the manager forgets them. */
  releaseAll(): void {
    for (const handle of this.held.allHandles()) {
      if (this.held.isStream(handle)) this.streams.end(handle);
      else this.answerEmpty(handle, true);
    }
  }

  /** `header` is Access-Control-Request-Headers for OPTIONS, Last-Event-ID for GET (src/engine/events.ts). */
  onRequest(handle: number, method: number, target: string, header: string): void {
    const q = target.indexOf('?');
    const path = q === -1 ? target : target.slice(0, q);
    const acrh = header;
    if (path === '/poll') {
      if (method === Method.Get) this.onPoll(handle, q === -1 ? '' : target.slice(q + 1));
      else if (method === Method.Options) this.preflight(handle, acrh);
      else this.error(handle, 'method_not_allowed', 'use GET (or OPTIONS) on /poll', ALLOW_POLL);
    } else if (path === '/events') {
      if (method === Method.Get) this.streams.open(handle, q === -1 ? '' : target.slice(q + 1), header);
      else if (method === Method.Options) this.preflight(handle, acrh);
      else this.error(handle, 'method_not_allowed', 'use GET (or OPTIONS) on /events', ALLOW_POLL);
    } else if (path === '/health') {
      if (method === Method.Get || method === Method.Head) this.engine.respond(handle, 200, ResponseKind.Text, 'ok', null);
      else this.error(handle, 'method_not_allowed', 'use GET or HEAD on /health', ALLOW_HEALTH);
    } else {
      this.error(handle, 'not_found', 'no such path: use /poll, /events or /health', null);
    }
  }

  private onPoll(handle: number, query: string): void {
    const parsed = parsePollQuery(query);
    if (!parsed.ok) return this.pollError(handle, 'bad_request', parsed.error);
    const { client, since, callback, token } = parsed.params;
    if (this.config.secret !== undefined) {
      if (token === undefined || token.length === 0) {
        return this.pollError(handle, 'forbidden', { message: 'parameter "token" is required by this server', callback });
      }
      if (!verifyToken(this.config.secret, client, token, Math.floor(Date.now() / 1000))) {
        return this.pollError(handle, 'forbidden', { message: 'the token is invalid or expired for this client', callback });
      }
    }
    if (!this.engine.hold(handle, this.config.pollTimeoutMs)) return;
    this.held.add(handle, since, callback);
    this.manager.poll(handle, since, client);
  }

  onTimeout(handle: number): void {
    this.answerEmpty(handle, true);
  }

  onClosed(handle: number): void {
    if (this.held.take(handle) !== NOT_HELD) this.manager.gone(handle);
  }

  /** Answers a held poll empty with its cursor; `tellManager` unless the manager already forgot it (a release). */
  private answerEmpty(handle: number, tellManager: boolean, replaced = false): void {
    const since = this.held.take(handle);
    if (since === NOT_HELD) return;
    const callback = this.held.takenCallback;
    const body = replaced ? replacedPollBody(since) : emptyPollBody(since);
    if (callback === undefined) this.engine.respond(handle, 200, ResponseKind.Json, body, null);
    else this.engine.respond(handle, 200, ResponseKind.Jsonp, wrapJsonp(callback, body), null);
    if (tellManager) this.manager.gone(handle);
  }

  private preflight(handle: number, acrh: string): void {
    let headers = `Access-Control-Allow-Methods: GET, OPTIONS\r\nAccess-Control-Max-Age: ${PREFLIGHT_MAX_AGE_S}\r\n`;
    if (acrh.length > 0) headers += `Access-Control-Allow-Headers: ${acrh}\r\n`;
    this.engine.respond(handle, 204, ResponseKind.None, null, headers);
  }

  private pollError(handle: number, code: HttpErrorCode, error: PollQueryError): void {
    if (error.callback !== undefined) {
      this.engine.respond(handle, 200, ResponseKind.Jsonp, jsonpErrorBody(error.callback, code, error.message), null);
    } else {
      this.error(handle, code, error.message, null);
    }
  }

  private error(handle: number, code: HttpErrorCode, message: string, extraHeaders: string | null): void {
    this.engine.respond(handle, HTTP_ERRORS[code].status, ResponseKind.Json, httpErrorBody(code, message), extraHeaders);
  }
}
