// Deliveries to event streams (GET /events), beside the manager's deliveries
// to polls: a stream stays held after a delivery, so it is sent each message
// once as it is accepted, and the backlog after its cursor when it opens.
//
// Messages written on a stream stay queued, as messages delivered to a poll
// do, so a stream lost in transit is recovered by the reconnect's
// Last-Event-ID (the manager acknowledges up to it) until their TTL. They do
// not count against --max-queue while the stream is open (Manager.roomyEntry):
// everything queued for a client with an open stream has been written on it,
// so its queue holds only what it already received, kept for a replay.

import { sseEvent } from '../protocol/sse.js';
import type { ClientQueue } from './client-queue.js';
import type { LatencyHistogram } from './latency-histogram.js';
import type { WorkerPort } from './worker-port.js';

/**
 * Writes every queued message after `since` to the stream `handle` on `port`,
 * in DELIVER records of at most `maxBytes`. Returns how many messages.
 */
export function deliverBacklog(
  queue: ClientQueue,
  since: number,
  maxBytes: number,
  latency: LatencyHistogram,
  expiryNow: number,
  port: WorkerPort,
  handle: number,
): number {
  let count = 0;
  for (let out = queue.eventsAfter(since, maxBytes, latency, expiryNow); out !== null; ) {
    count += out.count;
    port.deliver(handle, out.body);
    out = queue.eventsAfter(out.last, maxBytes, latency, expiryNow);
  }
  return count;
}

/** Writes the message just accepted to the stream `handle` on `port`. */
export function deliverEvent(id: number, data: string, latency: LatencyHistogram, port: WorkerPort, handle: number): void {
  latency.observe(0);
  port.deliver(handle, sseEvent(id, data));
}
