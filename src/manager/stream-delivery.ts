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
import type { MessageList } from './groups.js';
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
  const list: MessageList = { ids: [], data: [], expires: [] };
  queue.appendAfter(since, list);
  return deliverList(list, maxBytes, latency, expiryNow, port, handle);
}

/** Writes the message just accepted to the stream `handle` on `port`. */
export function deliverEvent(id: number, data: string, latency: LatencyHistogram, port: WorkerPort, handle: number): void {
  latency.observe(0);
  port.deliver(handle, sseEvent(id, data));
}

/**
 * Writes the messages of `list` (a group member's backlog: runs of increasing ids, all after
 * the stream's cursor, none expired) to the stream `handle` on `port` in id order, in DELIVER
 * records of at most `maxBytes` (one event may pass it alone). Returns how many messages.
 */
export function deliverList(
  list: MessageList,
  maxBytes: number,
  latency: LatencyHistogram,
  expiryNow: number,
  port: WorkerPort,
  handle: number,
): number {
  const order = Array.from(list.ids.keys()).sort((a, b) => list.ids[a]! - list.ids[b]!);
  let body = '';
  let bytes = 0;
  for (const k of order) {
    const event = sseEvent(list.ids[k]!, list.data[k]!);
    const size = Buffer.byteLength(event);
    if (body !== '' && bytes + size > maxBytes) {
      port.deliver(handle, body);
      body = '';
      bytes = 0;
    }
    body += event;
    bytes += size;
    latency.observe(expiryNow - list.expires[k]!);
  }
  if (body !== '') port.deliver(handle, body);
  return order.length;
}
