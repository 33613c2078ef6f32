// Message ids: one counter for every client, seeded from the clock so that ids
// keep increasing across restarts without any state on disk.
//
// An id is max(last + 1, now_ms * 1000): the counter may hand out 1000 ids per
// millisecond of clock time (1,000,000 per second) before it runs ahead of the
// clock. Below that rate a restarted server starts above every id the previous
// run issued as soon as one millisecond has passed. A burst above that rate
// builds a lead of (ids issued - 1000 * elapsed ms); a restart is safe as long
// as the downtime in milliseconds times 1000 exceeds that lead, which for any
// rate this server can sustain is far below the seconds a restart takes. The
// clock being set back by more than the downtime breaks the guarantee too.
// now_ms * 1000 stays below 2^53 until the year 2255.

import { MAX_MESSAGE_ID } from '../protocol/cursor.js';

export class IdCounter {
  private last = 0;

  /** The id of the previous next(), 0 before the first. */
  get lastIssued(): number {
    return this.last;
  }

  /** The next id, strictly greater than every earlier one from this counter. */
  next(nowMs: number): number {
    const id = Math.max(this.last + 1, Math.floor(nowMs) * 1000);
    if (id > MAX_MESSAGE_ID) {
      throw new RangeError(`message id ${id} would reach 2^53: the clock (${nowMs} ms) is far in the future; fix the system clock`);
    }
    this.last = id;
    return id;
  }
}
