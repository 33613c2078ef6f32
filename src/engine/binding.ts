// Typed binding to the C++ engine (native/): its options, its methods and the
// loading of the addon. The events it hands to JavaScript are read by
// ./events.ts.
import { createRequire } from 'node:module';

/** Options the engine takes once, at construction. */
export interface EngineOptions {
  /** Numeric IPv4 or IPv6 address to bind, e.g. "0.0.0.0" or "::" (a host name is refused by listen()). */
  host: string;
  /** Port to bind with SO_REUSEPORT; 0 picks a free one (see listen()). */
  port: number;
  /** listen(2) backlog. */
  backlog: number;
  /**
   * Connections this engine holds at most (capped at 2^24 - 1); the next ones
   * get 503 and are closed. Running out of file descriptors first has the same
   * effect. The table behind it is reserved, not allocated: 40 bytes per
   * connection actually open.
   */
  maxConnections: number;
  /**
   * Optional: element 0 of this Int32Array (over a SharedArrayBuffer) counts
   * the open connections of every engine given the same array, and
   * maxConnections then limits that sum: one process-wide limit, however
   * unevenly the kernel spreads accepts over the threads.
   */
  sharedConnections?: Int32Array;
  /** Close a connection that has not completed its request head this long after accept / first byte. */
  headTimeoutMs: number;
  /** Close a keep-alive connection idle between requests this long. */
  keepAliveTimeoutMs: number;
  /** Value of Access-Control-Allow-Origin on every response, baked into the head templates. */
  corsOrigin: string;
  /** Event streams: a ":" comment line after this long without other bytes (default 15000). */
  heartbeatMs?: number;
  /** Event streams: unsent bytes past this close the stream (default 1 MiB); see native/event_stream.cc. */
  maxStreamBuffer?: number;
  /**
   * When above 0: the port's new connections go, at random, to the first `spread` listening
   * sockets of its SO_REUSEPORT group only (a BPF program on the group), not to every one.
   * 0 (default): the kernel spreads them over all.
   */
  spread?: number;
}

/** What write() did to an event stream. */
export const enum StreamWrite {
  /** Written (or kept, and finished when the socket takes it). */
  Written = 0,
  /** The handle is no open stream (ended, or its peer left: CLOSED was or will be reported). Nothing written. */
  Stale = 1,
  /** This write passed the stream's unsent-bytes limit, or the socket failed: the stream is closed now and no CLOSED follows. */
  Closed = 2,
}

export interface EngineStats {
  /** Open client connections now (including ones closing after their last response). */
  connections: number;
  /** Requests held with hold() and not yet answered, and open event streams. */
  held: number;
  /** Open event streams (stream() and not ended). */
  streams: number;
  /** Connections accepted since start. */
  accepted: number;
  /** Connections refused (max connections or fd limit) since start. */
  refused: number;
  /** Requests answered by the engine itself with 400/413/431/501 since start. */
  badRequests: number;
}

/**
 * Called once per event-loop iteration with every event of that iteration,
 * written into `engine.events` (layout and decoder in ./events.ts); only when the 256 KiB
 * buffer fills up within one iteration is it called more than once. `count`
 * records fill the first `bytes` bytes. The buffer is reused: read it before
 * returning. Also called with `count` 0 after an iteration in which stats()
 * would have changed without any event (accepts, closes, 503s, errors the
 * engine answered), once per change: read stats() then, instead of on a timer. The callback may call respond(), hold(), drain() and close(); an
 * exception it throws becomes the thread's uncaught exception.
 */
export type EventsCallback = (count: number, bytes: number) => void;

export interface NativeEngine {
  /** The engine's event buffer; its contents are valid only during an EventsCallback. */
  readonly events: ArrayBuffer;
  /**
   * Binds and listens (SO_REUSEPORT), starts watching. Returns the bound port.
   * Throws Error naming errno on failure (e.g. "... EADDRINUSE (Address already
   * in use) ..."); it may then be called again. The engine keeps its thread's
   * event loop alive until close().
   */
  listen(): number;
  /**
   * Answers the request `handle` with a complete response: status line and
   * head from a prebuilt template (Content-Type from `kind`, Cache-Control:
   * no-store, Access-Control-Allow-Origin, Content-Length, Connection: close
   * when the connection will close), then `extraHeaders` (each line ending in
   * \r\n, or null), then the body (omitted on the wire for HEAD requests;
   * 1xx, 204 and 304 answers carry neither Content-Length nor body). A
   * Uint8Array body (also a view of a SharedArrayBuffer) is written without a
   * copy; only a part the socket does not take at once is copied and finished
   * later. Never calls back into JS: a pipelined request behind this one is
   * reported on a later loop iteration.
   * Returns false, writing nothing, if the handle is stale: its request was
   * already answered, or its socket closed (and perhaps reused). Throws
   * TypeError/RangeError for arguments that cannot be right (a handle that is
   * not a non-negative integer, a status outside 100..599, an unknown kind, a
   * body of another type, extraHeaders not ending in \r\n).
   */
  respond(handle: number, status: number, kind: ResponseKind, body: Uint8Array | string | null, extraHeaders: string | null): boolean;
  /**
   * Keeps the request `handle` open: after `timeoutMs` a TIMEOUT event is
   * reported (the request is still open then, and must be answered), and if
   * the peer closes first a CLOSED event is reported. Calling it again re-arms
   * the timeout. Returns false if stale, and also if the peer has already
   * closed its side (the engine then closes the connection; no CLOSED follows).
   */
  hold(handle: number, timeoutMs: number): boolean;
  /**
   * Turns the request `handle` into an event stream (native/event_stream.cc):
   * writes the head (200, text/event-stream, no-store, CORS, Connection:
   * close, no Content-Length) and `first`, and keeps the connection open with
   * a heartbeat comment line after heartbeatMs of silence. The peer leaving
   * reports CLOSED; there is no TIMEOUT. Returns false if stale, or if the peer
   * has already closed (then no CLOSED follows).
   */
  stream(handle: number, first: Uint8Array | string): boolean;
  /** Appends complete events to the stream `handle` (a Uint8Array is read without a copy, like respond()'s body). */
  write(handle: number, bytes: Uint8Array | string): StreamWrite;
  /** Ends the stream `handle` once its unsent bytes are written; no CLOSED follows. False if stale. */
  end(handle: number): boolean;
  /**
   * Graceful stop: closes the listening socket, closes connections with no
   * outstanding request, and makes every later response close its connection
   * once written. stats().connections reaches 0 when all are done.
   */
  drain(): void;
  /** Hard stop: closes every socket and the epoll set and unregisters from libuv. Idempotent. */
  close(): void;
  stats(): EngineStats;
  /**
   * stats() into `out` (a Float64Array of at least STATS_FIELD_COUNT), at the StatsField
   * indexes: for once per batch of work, where stats() would build an object.
   */
  statsInto(out: Float64Array): void;
}

/** Where statsInto() puts each of stats()'s numbers (native/engine.cc writes them in this order). */
export const StatsField = { connections: 0, held: 1, streams: 2, accepted: 3, refused: 4, badRequests: 5 } as const;
export const STATS_FIELD_COUNT = 6;

export interface NativeAddon {
  Engine: new (options: EngineOptions, onEvents: EventsCallback) => NativeEngine;
  /** Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit. */
  raiseFileLimit(): number;
  /** Watches doorbell `fd` on this thread's loop, calling onRing once per run of rings (src/ring/doorbell.ts). */
  DoorbellWatcher: new (fd: number, onRing: () => void) => NativeDoorbellWatcher;
  /** A new doorbell (an eventfd); throws if none can be made. */
  createDoorbell(): number;
  /** Rings doorbell `fd`: its watcher's onRing runs on the watcher's thread. Any thread. */
  ringDoorbell(fd: number): void;
  /** Closes doorbell `fd`, once no thread rings or watches it any more. */
  closeDoorbell(fd: number): void;
}

export interface NativeDoorbellWatcher {
  /** Whether the watch keeps this thread's loop alive (it does not at first). */
  keepAlive(on: boolean): void;
  /** Stops watching (the fd stays open: its owner closes it). Idempotent. */
  close(): void;
}

/** Content-Type of a response, chosen from the prebuilt head templates. */
export const enum ResponseKind {
  /** application/json; charset=utf-8 */
  Json = 0,
  /** application/javascript; charset=utf-8 plus X-Content-Type-Options: nosniff */
  Jsonp = 1,
  /** text/plain; charset=utf-8 */
  Text = 2,
  /** no Content-Type (204 answers) */
  None = 3,
}

let addon: NativeAddon | undefined;

/**
 * Loads the compiled addon (build/Release/megacomet.node, or the file named by
 * the MEGACOMET_ADDON environment variable, e.g. the sanitizer build of
 * native/asan.mk). Safe to call in any thread.
 */
export function loadAddon(): NativeAddon {
  if (addon === undefined) {
    const require = createRequire(import.meta.url);
    const path = process.env.MEGACOMET_ADDON ?? '../../build/Release/megacomet.node';
    try {
      addon = require(path) as NativeAddon;
    } catch (err) {
      throw new Error(
        `cannot load the native engine (${path}): ${(err as Error).message}. ` +
          'Build it with `npm run build` (needs python3, make and g++).',
      );
    }
  }
  return addon;
}
