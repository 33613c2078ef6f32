// TTL expiry without a timer per message or per client: every non-empty
// queue is filed in exactly one bucket, the second in which its oldest message
// expires (rounded up). The manager's once-a-second tick takes the buckets
// that are due and looks only at the queues in them: each has at least one
// expired message, and the survivors are filed again under their new oldest
// message. A queue that empties (acknowledged) leaves its bucket at once by a
// swap with the bucket's last entry, so buckets hold only live queues and a
// queue object never outlives its messages.
//
// Cost: O(1) per file/unfile, and per tick O(queues due) plus the number of
// seconds since the last tick. Expiry is noticed up to 2 s late by this sweep
// (1 s of rounding plus 1 s of tick period); delivery and status check expiry
// themselves, so a late sweep only delays the counters and frees memory later.

import type { ClientQueue } from './client-queue.js';

export class ExpiryBuckets {
  /**
   * Buckets by second counted from `origin` (the first second seen), not
   * from the epoch: epoch seconds are above the small-integer range, so every
   * key would be a boxed double, allocated and hashed as one on each file and
   * unfile (one of each per message delivered).
   */
  private readonly buckets = new Map<number, ClientQueue[]>();
  private origin = 0;
  private hasOrigin = false;
  /** Every bucket at or below this (relative) second has been taken. */
  private sweptThrough = -Infinity;

  /** Files a non-empty queue under the second its oldest message expires in. */
  file(queue: ClientQueue): void {
    const second = Math.max(this.relative(Math.ceil(queue.firstExpiry / 1000)), this.sweptThrough + 1);
    let bucket = this.buckets.get(second);
    if (bucket === undefined) {
      bucket = [];
      this.buckets.set(second, bucket);
    }
    queue.bucket = second;
    queue.bucketIndex = bucket.length;
    bucket.push(queue);
  }

  /** Takes a queue out of its bucket (it emptied, or its oldest message changed). */
  unfile(queue: ClientQueue): void {
    // bucketIndex, not bucket, marks an unfiled queue: relative seconds may be negative.
    if (queue.bucketIndex < 0) return;
    const bucket = this.buckets.get(queue.bucket);
    if (bucket === undefined) return;
    const last = bucket.pop()!;
    if (last !== queue) {
      bucket[queue.bucketIndex] = last;
      last.bucketIndex = queue.bucketIndex;
    }
    if (bucket.length === 0) this.buckets.delete(queue.bucket);
    queue.bucket = -1;
    queue.bucketIndex = -1;
  }

  /** Removes and returns every queue filed under a second <= floor(nowMs / 1000), unfiled. */
  takeDue(nowMs: number): ClientQueue[] {
    const now = this.relative(Math.floor(nowMs / 1000));
    if (now <= this.sweptThrough) return [];
    const due: ClientQueue[] = [];
    const take = (second: number): void => {
      const bucket = this.buckets.get(second);
      if (bucket === undefined) return;
      this.buckets.delete(second);
      for (const queue of bucket) {
        queue.bucket = -1;
        queue.bucketIndex = -1;
        due.push(queue);
      }
    };
    if (now - this.sweptThrough <= this.buckets.size + 1) {
      for (let second = this.sweptThrough + 1; second <= now; second++) take(second);
    } else {
      // A long gap (first tick, or the clock jumped): walking the filed seconds is cheaper.
      for (const second of [...this.buckets.keys()]) if (second <= now) take(second);
    }
    this.sweptThrough = now;
    return due;
  }

  private relative(second: number): number {
    if (!this.hasOrigin) {
      this.origin = second;
      this.hasOrigin = true;
    }
    const relative = second - this.origin;
    // An int32 stays a small integer in the Map and in queue.bucket; only a clock jump of decades is not one.
    return relative === (relative | 0) ? relative | 0 : relative;
  }
}
