// Message ids: one counter for every client, seeded from the clock so that ids
// keep increasing across restarts without any state on disk.
//
// An id is max(last + 1, now_ms * 1000): 1000 ids per millisecond of clock
// time (1,000,000 per second) before the counter runs ahead of the clock. A
// faster burst (a `send` to 10,000 clients issues 10,000 ids at once) may run
// ahead, but never by more than `leadMs` (1 s): past that, next() answers 0
// and the manager waits for the clock (sends slow down, nothing is lost).
//
// That bound is what makes a restart safe however soon it comes: a process
// killed at time K has issued no id above (K + lead) ms * 1000 + 999, so a new
// process seeds its counter at (its start + lead) ms * 1000, which is above
// every id of the old one as soon as it starts at least 1 ms after K. (Ids
// jump ahead by one lead's worth at each start; there are 2^53 of them.) The
// clock being set back between two runs by more than the lead breaks this, as
// it would any clock-seeded scheme; a planned restart (a takeover, src/takeover/)
// hands the counter over instead: advanceTo().
// now_ms * 1000 stays below 2^53 until the year 2255.

import { MAX_MESSAGE_ID } from '../protocol/cursor.js';

/** How far (ms) the counter may run ahead of the clock. */
export const DEFAULT_ID_LEAD_MS = 1000;

export class IdCounter {
  private last: number;
  private readonly leadMs: number;

  /** `startMs`: the clock now, at the start of this process (later than any earlier process's end). */
  constructor(startMs: number, leadMs = DEFAULT_ID_LEAD_MS) {
    this.leadMs = leadMs;
    this.last = (Math.floor(startMs) + leadMs) * 1000;
  }

  /** The id of the previous next(); before the first, the seed (every id issued is above it). */
  get lastIssued(): number {
    return this.last;
  }

  /**
   * Raises the counter to `lastIssued` (never lowers it): a takeover hands
   * over the old process's last id, so every id issued here is above it.
   */
  advanceTo(lastIssued: number): void {
    if (lastIssued > this.last) this.last = lastIssued;
  }

  /**
   * The next id, strictly greater than every earlier one from this counter
   * and from any earlier process; or 0 when issuing it would put the counter
   * more than the lead ahead of `nowMs` (call again once msUntilRoom() has passed).
   */
  next(nowMs: number): number {
    const nowTick = Math.floor(nowMs);
    const id = Math.max(this.last + 1, nowTick * 1000);
    if (id > (nowTick + this.leadMs) * 1000 + 999) return 0;
    if (id > MAX_MESSAGE_ID) {
      throw new RangeError(`message id ${id} would reach 2^53: the clock (${nowMs} ms) is far in the future; fix the system clock`);
    }
    this.last = id;
    return id;
  }

  /** How long (ms) until next() can issue an id again, after it answered 0 at `nowMs`. */
  msUntilRoom(nowMs: number): number {
    return Math.max(1, Math.floor((this.last + 1) / 1000) - this.leadMs - Math.floor(nowMs));
  }
}
