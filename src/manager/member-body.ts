// The delivery body of a group member: its direct messages and its groups'
// pending publishes, merged by id (docs/ARCHITECTURE.md, "Groups"). The same
// rules as ClientQueue.bodyAfter: in id order, stopping before a message that
// would take the body past `maxBytes` of UTF-8 but always including the
// first; the cursor is the last included id, so the rest goes out on the
// next poll. Used only for clients in a group; others keep the queue's path.

import { POLL_BODY_OVERHEAD_BYTES, pollBody } from '../protocol/poll-body.js';
import type { MessageList } from './groups.js';
import type { LatencyHistogram } from './latency-histogram.js';

/**
 * The body of the messages of `list` (runs of increasing ids, all after the
 * poll's cursor, none expired), or null when it is empty. `expiryNow` is the
 * expiry a message accepted now would get, for the latency of each one.
 */
export function memberBody(
  list: MessageList,
  maxBytes: number,
  latency: LatencyHistogram,
  expiryNow: number,
): { body: string; count: number } | null {
  const n = list.ids.length;
  if (n === 0) return null;
  const order = Array.from(list.ids.keys()).sort((a, b) => list.ids[a]! - list.ids[b]!);
  let messages = list.data[order[0]!]!;
  let budget = maxBytes - POLL_BODY_OVERHEAD_BYTES - Buffer.byteLength(messages);
  let count = 1;
  for (; count < n; count++) {
    const data = list.data[order[count]!]!;
    budget -= Buffer.byteLength(data) + 1;
    if (budget < 0) break;
    messages += ',' + data;
  }
  for (let k = 0; k < count; k++) latency.observe(expiryNow - list.expires[order[k]!]!);
  return { body: pollBody(list.ids[order[count - 1]!]!, messages), count };
}
