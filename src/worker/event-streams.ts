// GET /events in a worker (PROTOCOL.md "GET /events"): opening a stream,
// writing the manager's deliveries on it, ending it when a newer subscription
// replaces it or at shutdown. A stream is a held request that stays held: it
// lives in HeldPolls like a poll (its since is STREAM), goes to the manager as
// a POLL record in stream mode, and ends with GONE like a poll. The engine
// writes it and beats its heartbeat (native/event_stream.cc).
import type { Config } from '../config.js';
import { StreamWrite, type NativeEngine } from '../engine/binding.js';
import type { HttpErrorCode } from '../protocol/errors.js';
import { SSE_OPENING, SSE_REPLACED } from '../protocol/sse.js';
import { verifyToken } from '../protocol/token.js';
import { parseEventsQuery } from './events-query.js';
import { NOT_HELD, STREAM, type HeldPolls } from './held-polls.js';
import type { ManagerPort } from './manager-port.js';

/** Answers a request with a JSON error (the request handler's). */
export type ErrorAnswer = (handle: number, code: HttpErrorCode, message: string) => void;

export class EventStreams {
  constructor(
    private readonly engine: NativeEngine,
    private readonly config: Config,
    private readonly manager: ManagerPort,
    private readonly held: HeldPolls,
    private readonly error: ErrorAnswer,
  ) {}

  /** A GET /events: validated like a poll, then streamed; errors before the stream starts are JSON answers. */
  open(handle: number, query: string, lastEventId: string): void {
    const parsed = parseEventsQuery(query, lastEventId);
    if (!parsed.ok) return this.error(handle, 'bad_request', parsed.message);
    const { client, since, token } = parsed.params;
    if (this.config.secret !== undefined) {
      if (token === undefined || token.length === 0) {
        return this.error(handle, 'forbidden', 'parameter "token" is required by this server');
      }
      if (!verifyToken(this.config.secret, client, token, Math.floor(Date.now() / 1000))) {
        return this.error(handle, 'forbidden', 'the token is invalid or expired for this client');
      }
    }
    if (!this.engine.stream(handle, SSE_OPENING)) return;
    this.held.add(handle, STREAM, undefined);
    this.manager.stream(handle, since, client);
  }

  /** A DELIVER for the stream `handle`: complete events. A stream the write closed (slow reader) is gone. */
  write(handle: number, events: Uint8Array): void {
    if (this.engine.write(handle, events) === StreamWrite.Written) return;
    // Stale: its CLOSED is (or was) reported and ends it. Closed: nothing else will.
    if (this.held.take(handle) !== NOT_HELD) this.manager.gone(handle);
  }

  /** A RELEASE: a newer subscription of the client replaced this stream; it is told so, then ended. */
  replaced(handle: number): void {
    if (this.held.take(handle) === NOT_HELD) return;
    this.engine.write(handle, SSE_REPLACED);
    this.engine.end(handle);
  }

  /** Shutdown: ends the stream (its client reconnects, with Last-Event-ID, to the next process). */
  end(handle: number): void {
    if (this.held.take(handle) === NOT_HELD) return;
    this.engine.end(handle);
    this.manager.gone(handle);
  }
}
