// Shapes of the few postMessage()s between the main thread and worker
// threads (set-up and shutdown only: the hot path goes through the rings).
import type { Config } from '../config.js';
import type { RingDoorbells } from '../ring/doorbell.js';

export interface WorkerInit {
  readonly index: number;
  readonly config: Config;
  /** The port this worker binds (already resolved for --port-per-thread and --port 0). */
  readonly port: number;
  /** Connections the whole process accepts at most, counted in `connections`. */
  readonly maxConnections: number;
  /** One Int32: open connections of all workers together (see EngineOptions.sharedConnections). */
  readonly connections: SharedArrayBuffer;
  readonly toManager: SharedArrayBuffer;
  readonly fromManager: SharedArrayBuffer;
  readonly stats: SharedArrayBuffer;
  /** Which POLLs must wake the manager (src/ring/prompt-board.ts), written by the manager. */
  /** Null with --redis: every POLL then wakes the main thread. */
  readonly promptBoard: SharedArrayBuffer | null;
  /** EngineOptions.spread: how many workers' listeners take new connections (0: all). */
  readonly spread: number;
  /** The doorbells of this worker's two rings (src/ring/doorbell.ts). */
  readonly doorbells: RingDoorbells;
  /** The process's client-id hash key (src/protocol/client-id-hash.ts), so the board's buckets agree. */
  readonly hashKey: readonly [number, number];
}

export type WorkerToMain =
  | { readonly type: 'listening'; readonly port: number }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'drained' };

export type MainToWorker = { readonly type: 'shutdown'; readonly graceMs: number };
