// What an app connection asks of the server behind it: the embedded manager
// (./local-backend.ts) or, with --redis, the shared store (src/cluster/).
// The connection frames lines, checks auth and keeps replies in request
// order; the backend carries out each request and words its reply.

import type { AppRequest } from './app-request.js';
import type { ManagerStats } from '../protocol/stats.js';

/** The requests a backend carries out (auth and stats are the connection's). */
export type BackendRequest = Exclude<AppRequest, { op: 'auth' | 'stats' }>;

/** A reply object's JSON, or null for a bare {"ok":true}. */
export type BackendReply = string | null;

export interface AppBackend {
  /**
   * Carries out one valid request. A promise is answered when it settles;
   * the connection still writes replies in request order.
   */
  perform(request: BackendRequest): BackendReply | Promise<BackendReply>;
  /** The manager-side figures of {"op":"stats"}. */
  stats(): ManagerStats;
  /** Writes the deliveries the requests of one read made, before their replies go out. */
  flushDeliveries(): void;
}
