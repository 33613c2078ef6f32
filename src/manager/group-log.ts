// One group's publishes, oldest first: stored once however many members the
// group has (docs/ARCHITECTURE.md, "Groups"). Each entry has a sequence number
// (0, 1, 2, ... for the group's life); a membership remembers the first
// sequence number it has not acknowledged, so a member's pending publishes are
// a suffix of the log and cost the member nothing per publish.
//
// Ids and expiry times increase along the log (one id counter, a monotonic
// clock and one TTL; expiry times are kept non-decreasing as in a client's
// queue), so acknowledgement is a binary search and expiry cuts a prefix.

export class GroupLog {
  private ids: number[] = [];
  private data: string[] = [];
  private expires: number[] = [];
  private head = 0;
  /** Sequence number of array index 0. */
  private base = 0;
  /** Sum of the live entries' data lengths (UTF-16 units), for the memory budget. */
  dataChars = 0;

  /** Sequence number of the oldest live entry. */
  get firstSeq(): number {
    return this.base + this.head;
  }

  /** Sequence number the next publish will get. */
  get endSeq(): number {
    return this.base + this.ids.length;
  }

  /** Live entries. */
  get length(): number {
    return this.ids.length - this.head;
  }

  push(id: number, data: string, expiresAt: number): void {
    const end = this.ids.length;
    this.ids.push(id);
    this.data.push(data);
    this.expires.push(end > this.head ? Math.max(expiresAt, this.expires[end - 1]!) : expiresAt);
    this.dataChars += data.length;
  }

  idAt(seq: number): number {
    return this.ids[seq - this.base]!;
  }

  dataAt(seq: number): string {
    return this.data[seq - this.base]!;
  }

  expiresAt(seq: number): number {
    return this.expires[seq - this.base]!;
  }

  /** The sequence number of the first live entry whose id is above `id` (endSeq if none). */
  seqAfter(id: number): number {
    let lo = this.head;
    let hi = this.ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ids[mid]! <= id) lo = mid + 1;
      else hi = mid;
    }
    return this.base + lo;
  }

  /** Drops every entry whose expiry time is <= now; returns how many. */
  dropExpired(now: number): number {
    let i = this.head;
    const end = this.ids.length;
    while (i < end && this.expires[i]! <= now) i++;
    const removed = i - this.head;
    if (removed === 0) return 0;
    for (let j = this.head; j < i; j++) {
      this.dataChars -= this.data[j]!.length;
      this.data[j] = '';
    }
    this.head = i;
    if (this.head === end) {
      this.base += end;
      this.ids.length = 0;
      this.data.length = 0;
      this.expires.length = 0;
      this.head = 0;
    } else if (this.head > 32 && this.head * 2 > end) {
      this.base += this.head;
      this.ids = this.ids.slice(this.head);
      this.data = this.data.slice(this.head);
      this.expires = this.expires.slice(this.head);
      this.head = 0;
    }
    return removed;
  }
}
