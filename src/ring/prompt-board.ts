// Which POLL records must wake the manager at once, and which may wait for its
// next look: shared memory the manager writes and every worker reads.
//
// Why: at a moderate rate each message used to cost the manager two thread
// wake-ups, one for the app's line and one for the POLL of the client's
// re-poll, and the second bought nothing: most re-polls acknowledge what they
// were just answered and are then simply held. A POLL needs the manager now
// only if it has something to answer at once:
//   - a message queued above the poll's cursor (a re-poll after a lost answer,
//     a poll of a client messages waited for);
//   - an older poll or stream of the same client held (it is to be told
//     "replaced");
//   - a group membership (pending publishes live in the group's log);
//   - an event stream (it is written its backlog when it opens).
// Every other POLL is published quietly (src/ring/ring.ts writeQuietly) and
// the manager takes it in before anything that depends on it: before each app
// operation and stats reply (Manager.sync) and after every task in which it
// changed this board (Manager.settle).
//
// The board is per bucket of client ids (the process's keyed client-id hash,
// src/protocol/client-id-hash.ts), so its size is fixed; a bucket shared by two
// clients answers for both, which can only make a POLL prompt that need not be:
//   held     int32  clients of the bucket with a held poll or stream
//   last     int64  the highest message id queued for a client of the bucket
//                   (ids are one counter for every client, so each new id is
//                   the bucket's highest: never lowered, a stale one only
//                   makes polls prompt)
//   members  int32  (one word) clients in any group: while there are any,
//                   every POLL is prompt
//
// Why nothing is missed. The worker publishes the record (an Atomics.store of
// HEAD) and then loads the board; the manager stores to the board and then,
// at the end of the same task, loads every ring's HEAD and takes in what it
// finds (Manager.settle). All four accesses are sequentially consistent
// atomics, so either the worker sees the manager's store and wakes it, or the
// manager's load sees the record. A POLL that needs no prompt answer still
// reaches the manager before any message for its client is accepted
// (Manager.sync runs first), so exactly-once and in-order are untouched.
//
// Size: 2^17 buckets, 12 bytes each = 1.5 MiB, fixed. With 10,000 clients
// about 1 poll in 7 shares a bucket with a held client; with a million every
// bucket holds some, and polls are prompt as before (no gain, no loss).

export const PROMPT_BUCKET_BITS = 17;
const BUCKETS = 1 << PROMPT_BUCKET_BITS;
const MEMBERS_WORD = 0;
/** Int32 words before the held counts (the members word, padded so `last` stays 8-aligned). */
const HEADER_WORDS = 2;

/** A new board (all zero: nothing held, nothing queued) for the manager and its workers. */
export function createPromptBoard(): SharedArrayBuffer {
  return new SharedArrayBuffer((HEADER_WORDS + BUCKETS) * 4 + BUCKETS * 8);
}

/** The board's bucket of a client, from its client-id hash (hashIdString / hashIdBytes). */
export function promptBucket(hash: number): number {
  return hash >>> (32 - PROMPT_BUCKET_BITS);
}

export class PromptBoard {
  private readonly words: Int32Array;
  private readonly last: BigInt64Array;

  constructor(sab: SharedArrayBuffer) {
    if (sab.byteLength !== (HEADER_WORDS + BUCKETS) * 4 + BUCKETS * 8) {
      throw new RangeError(`prompt board of ${sab.byteLength} bytes: make it with createPromptBoard()`);
    }
    this.words = new Int32Array(sab, 0, HEADER_WORDS + BUCKETS);
    this.last = new BigInt64Array(sab, (HEADER_WORDS + BUCKETS) * 4, BUCKETS);
  }

  /** Bytes of shared memory the board takes. */
  get bytes(): number {
    return this.words.byteLength + this.last.byteLength;
  }

  // -- the worker's side: load only, after publishing the record --

  /** Whether a poll of a client of `bucket` with cursor `since`, already published, must wake the manager. */
  needsPrompt(bucket: number, since: number): boolean {
    return (
      Atomics.load(this.words, MEMBERS_WORD) !== 0 ||
      Atomics.load(this.words, HEADER_WORDS + bucket) !== 0 ||
      since < Number(Atomics.load(this.last, bucket))
    );
  }

  // -- the manager's side: the only writer --

  /** A client of `bucket` now has a held poll or stream. */
  held(bucket: number): void {
    Atomics.add(this.words, HEADER_WORDS + bucket, 1);
  }

  /** A client of `bucket` no longer has one. */
  released(bucket: number): void {
    Atomics.sub(this.words, HEADER_WORDS + bucket, 1);
  }

  /** Message `id` (above every id before it) is queued for a client of `bucket`. */
  queued(bucket: number, id: number): void {
    Atomics.store(this.last, bucket, BigInt(id));
  }

  /** Messages up to `id` may be queued for a client of `bucket` (an import or an adoption: ids not the newest). */
  queuedUpTo(bucket: number, id: number): void {
    if (id > Number(Atomics.load(this.last, bucket))) Atomics.store(this.last, bucket, BigInt(id));
  }

  /** Whether any client is in a group (then every POLL is prompt). */
  setMembers(any: boolean): void {
    const value = any ? 1 : 0;
    if (Atomics.load(this.words, MEMBERS_WORD) !== value) Atomics.store(this.words, MEMBERS_WORD, value);
  }
}
