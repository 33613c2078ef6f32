// The unacknowledged messages of one client, oldest first.
//
// Only clients with queued messages have one of these (an idle subscriber has
// none). Messages leave from the front only: a poll acknowledges every id up to
// its cursor, and expiry removes the oldest. Ids increase along the queue, and
// expiry times are kept non-decreasing too (a clock set back never makes a
// newer message expire before an older one), so both removals cut a prefix.
// Three parallel arrays (ids and expiry times as unboxed doubles) with a head
// index cost less than an object per message; the dead prefix is cut off once
// it is half the arrays. (The manager's clock is monotonic, so keeping expiry
// times in order changes nothing there; it guards injected clocks.)

import { POLL_BODY_OVERHEAD_BYTES, pollBody } from '../protocol/poll-body.js';
import type { LatencyHistogram } from './latency-histogram.js';
import type { MessageList } from './groups.js';

export class ClientQueue {
  /** The client's entry in the manager's client table, set when the manager takes the queue into use (queues are reused); -1 when spare. */
  entry = -1;
  /** Sum of the queued messages' data lengths (UTF-16 units), for the memory budget. */
  dataChars = 0;
  private ids: number[] = [];
  private data: string[] = [];
  private expires: number[] = [];
  private head = 0;
  /** Expiry bucket (second) this queue is filed under, meaningful while bucketIndex >= 0; owned by ExpiryBuckets. */
  bucket = -1;
  /** Position in that bucket's array, -1 when not filed; owned by ExpiryBuckets. */
  bucketIndex = -1;

  get length(): number {
    return this.ids.length - this.head;
  }

  /** The newest message's id (0 when empty): ids are kept in increasing order. */
  get lastId(): number {
    return this.ids.length > this.head ? this.ids[this.ids.length - 1]! : 0;
  }

  /** Expiry time (ms) of the oldest message; the queue must not be empty. */

  get firstExpiry(): number {
    return this.expires[this.head]!;
  }

  /** Appends a message; returns the expiry time it was given (never before an earlier message's). */
  push(id: number, data: string, expiresAt: number): number {
    const last = this.expires.length > this.head ? this.expires[this.expires.length - 1]! : expiresAt;
    const at = Math.max(expiresAt, last);
    this.ids.push(id);
    this.data.push(data);
    this.dataChars += data.length;
    this.expires.push(at);
    return at;
  }

  /** Drops every message with id <= since; returns how many. */
  acknowledge(since: number): number {
    let i = this.head;
    const end = this.ids.length;
    while (i < end && this.ids[i]! <= since) i++;
    return this.cut(i);
  }

  /** Drops every message whose expiry time is <= now; returns how many. */
  dropExpired(now: number): number {
    let i = this.head;
    const end = this.ids.length;
    while (i < end && this.expires[i]! <= now) i++;
    return this.cut(i);
  }

  /**
   * The delivery body of the messages with id > since, in send order:
   * {"cursor":<last id included>,"messages":[<data>,...]}, each data byte for
   * byte as sent. Stops before a message that would take the body past
   * `maxBytes` of UTF-8 (Buffer.byteLength: linear, like the concatenation and
   * the encoding into the ring that follow), but always includes the first one: the rest goes out on the next poll, whose
   * cursor is this body's. Returns null when there is none. Call
   * dropExpired() first: this does not look at expiry times.
   *
   * With `latency`, records each included message's time since it was
   * accepted: `expiryNow` is the expiry a message accepted now would get
   * (now + ttl), so a message's wait is expiryNow minus its own expiry.
   */
  bodyAfter(
    since: number,
    maxBytes: number,
    latency: LatencyHistogram | null = null,
    expiryNow = 0,
  ): { body: string; count: number } | null {
    let i = this.head;
    const end = this.ids.length;
    while (i < end && this.ids[i]! <= since) i++;
    if (i === end) return null;
    let messages = this.data[i]!;
    let last = i;
    let budget = maxBytes - POLL_BODY_OVERHEAD_BYTES - Buffer.byteLength(messages);
    for (let j = i + 1; j < end; j++) {
      const data = this.data[j]!;
      budget -= Buffer.byteLength(data) + 1;
      if (budget < 0) break;
      messages += ',' + data;
      last = j;
    }
    if (latency !== null) for (let j = i; j <= last; j++) latency.observe(expiryNow - this.expires[j]!);
    return { body: pollBody(this.ids[last]!, messages), count: last - i + 1 };
  }

  /** Appends the messages with id > since to `out`, oldest first (for a member's merged delivery). */
  appendAfter(since: number, out: MessageList): void {
    for (let i = this.head; i < this.ids.length; i++) {
      if (this.ids[i]! <= since) continue;
      out.ids.push(this.ids[i]!);
      out.data.push(this.data[i]!);
      out.expires.push(this.expires[i]!);
    }
  }

  /**
   * Merges messages (increasing ids, none already queued) into the queue by
   * id: a membership that ends hands its pending publishes to its client's
   * queue. Expiry times stay non-decreasing along the queue (a later id
   * never expires before an earlier one). The caller refiles the queue.
   */
  mergeIn(list: MessageList): void {
    if (list.ids.length === 0) return;
    const mine = this.snapshot();
    this.cut(this.ids.length);
    let i = 0;
    let j = 0;
    while (i < mine.ids.length || j < list.ids.length) {
      if (j === list.ids.length || (i < mine.ids.length && mine.ids[i]! < list.ids[j]!)) {
        this.push(mine.ids[i]!, mine.data[i]!, mine.expires[i]!);
        i++;
      } else {
        this.push(list.ids[j]!, list.data[j]!, list.expires[j]!);
        j++;
      }
    }
  }

  /**
   * The queued messages, oldest first: copies of the arrays (the data strings
   * are shared, not copied), so later acknowledgements and expiry leave them
   * as they were. For the takeover's state export.
   */
  snapshot(): { ids: number[]; data: string[]; expires: number[] } {
    return { ids: this.ids.slice(this.head), data: this.data.slice(this.head), expires: this.expires.slice(this.head) };
  }

  private cut(newHead: number): number {
    const removed = newHead - this.head;
    if (removed === 0) return 0;
    for (let i = this.head; i < newHead; i++) this.dataChars -= this.data[i]!.length;
    if (newHead === this.ids.length) {
      // Emptied: keep the arrays' storage for the next messages.
      this.ids.length = 0;
      this.data.length = 0;
      this.expires.length = 0;
      this.head = 0;
    } else if (newHead > 32 && newHead * 2 > this.ids.length) {
      this.ids = this.ids.slice(newHead);
      this.data = this.data.slice(newHead);
      this.expires = this.expires.slice(newHead);
      this.head = 0;
    } else {
      // Let go of the data strings at once; the slots are reclaimed at the next cut.
      for (let i = this.head; i < newHead; i++) this.data[i] = '';
      this.head = newHead;
    }
    return removed;
  }
}
