// Single-producer single-consumer byte rings between a worker thread and the manager, one per
// direction per worker. The memory layout is drawn in ring-layout.ts; this file is who does what.
//
// Concurrency contract (read this before changing anything below):
// - Exactly one thread writes a ring, through one RingWriter, and exactly one other thread reads
//   it, through one RingReader. They never change roles, and no third thread touches the ring.
// - HEAD is stored only by the writer and TAIL only by the reader. Each side keeps its own
//   counter in a private field and only publishes it; neither ever stores the other's.
// - All header words are accessed with Atomics (sequentially consistent); payload bytes and
//   length prefixes with plain typed-array access. That is race-free because every plain access
//   is ordered by an Atomics pair:
//     writer: plain stores of record k   -> Atomics.store(HEAD)   (publish)
//     reader: Atomics.load(HEAD)         -> plain loads of record k
//     reader: plain loads of record k    -> Atomics.store(TAIL)   (free)
//     writer: Atomics.load(TAIL)         -> plain stores reusing record k's bytes
//   In the JS memory model an Atomics.load that reads an Atomics.store synchronizes with it. On
//   x86 V8 emits the store as XCHG (a full fence) and the load as a plain MOV (TSO keeps loads
//   ordered); on arm64 they are STLR / LDAR, release and acquire, which also never reorder a
//   store-release before a later load-acquire: the property the sleep handshakes below rely on.
// - Sleeping is a handshake on a flag (READER_SLEEPING for HEAD, WRITER_WAITING for TAIL) that
//   the waker clears when it notifies, so a sleep costs the waker one Atomics.notify, not one
//   per record:
//     sleeper:  store(FLAG, 1); seen = load(WORD); if seen shows work, store(FLAG, 0) and work
//               waitAsync(WORD, seen)                    (queued only if WORD still == seen)
//               if load(FLAG) == 0: store(FLAG, 1); if load(WORD) != seen, notify(WORD) ourselves
//     waker:    store(WORD, new); if exchange(FLAG, 0) == 1, notify(WORD)
//   Sequential consistency puts these stores, loads and exchanges in one order, so either the
//   waker sees FLAG == 1 and notifies, or the sleeper's load sees the new WORD and does not
//   sleep; and waitAsync compares WORD with `seen` under the same lock notify takes, so a notify
//   after the store of a new WORD either finds the waiter queued or the wait returns
//   'not-equal'. The last line closes the one gap left: the waker can see FLAG == 1 and notify
//   in the instant between the sleeper's load and its waitAsync, when nobody is queued yet (and
//   the sleeper's `seen` already includes that store, so the wait is queued). That notify is
//   lost and the flag is gone, so no later store would notify either (the throughput bench hung
//   that way in about one run of two; test/ring-threads.ts now races a waker against the
//   sleeper to catch it). A flag found cleared after queueing is therefore announced again and
//   WORD looked at again; from then on, a waker that sees the flag notifies a queued waiter, and
//   one that does not see it stored WORD before our look, which then wakes us ourselves.
// - Nothing here ever blocks a thread: both sides sleep with Atomics.waitAsync, which returns a
//   promise. A pending waitAsync does not keep Node's event loop alive, so each side holds an
//   interval timer while it needs the thread to stay up (reader: start..stop; writer: while
//   records wait in its overflow list), released by stop() / close().
// - Or the reader sleeps on a doorbell (./doorbell.ts, native/doorbell.h), as the server's rings
//   do: the same flag handshake, with the writer ringing an eventfd instead of Atomics.notify.
//   A ring leaves the eventfd readable until the reader's loop reads it, so the gap described
//   above does not exist there; the watch keeps the thread alive instead of the interval timer.
//   The writer's wait for room (WRITER_WAITING) stays on waitAsync either way.
import {
  HEAD_WORD,
  PAD_MARKER,
  READER_SLEEPING_WORD,
  RECORD_HEADER_BYTES,
  TAIL_WORD,
  WRITER_WAITING_WORD,
  attachRing,
  maxRecordLength,
  recordSpan,
} from './ring-layout.js';

import type { BellWatch, RingBell, WatchBell } from './doorbell.js';

export { createRingBuffer, maxRecordLength } from './ring-layout.js';

/** Receives one record: its payload is `bytes[offset .. offset + length)` of the reader, valid only during the call. */
export type RecordHandler = (offset: number, length: number) => void;

/**
 * Atomics.waitAsync (V8 since Node 16) is typed only from lib es2024; the project targets es2022.
 * Atomics functions ignore `this`, so the bound copy behaves like the original.
 */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      array: Int32Array,
      index: number,
      value: number,
    ): { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
  }
).waitAsync.bind(Atomics);

/**
 * The sleeper's half of the handshake at the top of the file, from the waitAsync on: `flag` is
 * announced (1) and `seen`, loaded after the announcement, showed nothing to do. Returns the
 * pending wait, or undefined (with the flag withdrawn) when `word` had already moved on.
 * Exported for test/ring-watch.ts only; not part of the ring's API.
 */
export function sleepUntilChanged(ctl: Int32Array, word: number, flag: number, seen: number): Promise<unknown> | undefined {
  const wait = waitAsync(ctl, word, seen);
  if (!wait.async) {
    Atomics.store(ctl, flag, 0);
    return undefined;
  }
  // Queued. A cleared flag means the waker notified since our announcement, perhaps before we
  // were queued, in which case that notify woke nobody: announce again and look again.
  if (Atomics.load(ctl, flag) === 0) {
    Atomics.store(ctl, flag, 1);
    // Only this side ever waits on `word`, so this wakes our own wait and nobody else.
    if (Atomics.load(ctl, word) !== seen) Atomics.notify(ctl, word);
  }
  return wait.value;
}

/** Long enough never to fire; the timer only keeps the event loop alive. */
const KEEP_ALIVE_MS = 0x7fffffff;
function keepAliveTick(): void {}

/** Sources of exactly the record's length from this size up are copied with one native set(). */
const NATIVE_COPY_MIN_BYTES = 256;

/**
 * The producing side of one ring. Concurrency contract: exactly one thread uses this writer and
 * exactly one other thread reads the ring; the roles never change (see the top of ring.ts).
 *
 * write() never blocks and never drops: a record that finds no room is copied onto an overflow
 * list, and the list is flushed, oldest first and before any newer record, as soon as the reader
 * frees space (the writer sleeps on TAIL with Atomics.waitAsync, and the reader notifies it).
 * The list is unbounded: to push back on whoever produces the records, watch `backlog` and
 * await flushed().
 */
export class RingWriter {
  private readonly ctl: Int32Array;
  private readonly data: Buffer;
  private readonly words: Int32Array;
  /** Bytes in the ring's data area. */
  readonly capacity: number;
  private readonly mask: number;
  /** The longest payload write() accepts. */
  readonly maxLength: number;
  /** Our HEAD: only this writer changes it, so the shared word is only ever published, never read back. */
  private head: number;
  /** The last TAIL we loaded. The reader only moves it forward, so the free space is at least capacity - (head - tail). */
  private tail: number;
  /** Records waiting for room, oldest at overflowStart (a queue without shift()'s copying). */
  private overflow: Uint8Array[] = [];
  private overflowStart = 0;
  private overflowBytes = 0;
  /** Callers of flushed() waiting for the overflow list to empty. */
  private flushWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  private waitPending = false;
  private keepAlive: NodeJS.Timeout | undefined;
  private closed = false;
  /** The last source seen and an int32 view of it, so word copies allocate nothing per record. */
  private sourceBytes: Uint8Array | undefined;
  private sourceWords: Int32Array = new Int32Array(0);
  private readonly onSpace = (): void => {
    this.waitPending = false;
    if (!this.closed) this.waitForSpace();
  };

  /** Wakes the reader through its doorbell; null: Atomics.notify (a reader sleeping in waitAsync). */
  private readonly bell: RingBell | null;

  /** `bell`: the reader's doorbell (./doorbell.ts), when the reader watches one instead of waiting in waitAsync. */
  constructor(sab: SharedArrayBuffer, bell: RingBell | null = null) {
    this.bell = bell;
    const views = attachRing(sab, 'RingWriter');
    this.ctl = views.ctl;
    this.data = views.data;
    this.words = views.words;
    this.capacity = views.capacity;
    this.mask = views.capacity - 1;
    this.maxLength = maxRecordLength(views.capacity);
    this.head = Atomics.load(this.ctl, HEAD_WORD);
    this.tail = Atomics.load(this.ctl, TAIL_WORD);
  }

  /** Records waiting in the overflow list. */
  get backlog(): number {
    return this.overflow.length - this.overflowStart;
  }

  /** Payload bytes waiting in the overflow list. */
  get backlogBytes(): number {
    return this.overflowBytes;
  }

  /**
   * Bytes of the data area in use now: records written and not yet read, with their headers
   * and padding, from 0 to capacity (records in the overflow list are backlogBytes). For
   * metrics: one load of TAIL, nothing stored, so reading it costs the ring nothing.
   */
  get bytesUsed(): number {
    return (this.head - Atomics.load(this.ctl, TAIL_WORD)) | 0;
  }

  /**
   * Appends bytes[0..length) as one record. Never blocks, never drops: without room the record is
   * copied onto the overflow list and flushed in order as soon as the reader frees space.
   * Throws RangeError if length is not an integer in [0, min(bytes.length, maxLength)], where
   * maxLength = capacity / 2 - 8 (a record that could never fit); Error after close().
   */
  write(bytes: Uint8Array, length: number): void {
    if (this.writeQuietly(bytes, length)) this.wake();
  }

  /**
   * write() that does not wake a sleeping reader: the record is published, and the reader
   * sees it at its next drain, whoever triggers that. For a reader that polls the ring on its
   * own schedule (src/ring/prompt-board.ts says when the manager does); call wake() to wake
   * it after all. Returns whether the record went into the ring (true) or onto the overflow
   * list (false), which always wakes the reader when it is flushed.
   */
  writeQuietly(bytes: Uint8Array, length: number): boolean {
    if (!(Number.isInteger(length) && length >= 0 && length <= bytes.length && length <= this.maxLength)) {
      throw new RangeError(
        `ring record length ${String(length)} is not an integer in [0, ${Math.min(bytes.length, this.maxLength)}] ` +
          `(source holds ${bytes.length} bytes; this ring takes records of at most ${this.maxLength} bytes): ` +
          'split the record or create a larger ring',
      );
    }
    if (this.closed) throw new Error('RingWriter.write() after close(): the ring is shut down; stop writing before closing it');
    // Older records first: a newer one may only go straight into the ring once the list is empty.
    if (this.overflowStart !== this.overflow.length) this.flush();
    if (this.overflowStart === this.overflow.length && this.place(bytes, length)) {
      // Publishes the record: a reader that loads this HEAD also sees its length prefix,
      // padding marker and payload bytes (plain stores in place()).
      Atomics.store(this.ctl, HEAD_WORD, this.head);
      return true;
    }
    const copy = new Uint8Array(length);
    copy.set(length === bytes.length ? bytes : bytes.subarray(0, length));
    this.overflow.push(copy);
    this.overflowBytes += length;
    if (!this.waitPending) this.waitForSpace();
    return false;
  }

  /** Wakes the reader if it sleeps: it then drains everything published so far. */
  wake(): void {
    // The reader announces sleep before its last look at HEAD, so if it missed our last store
    // of HEAD it has set the flag, and we see it here. Clear it ourselves so later records do
    // not notify again before the reader is back.
    if (Atomics.load(this.ctl, READER_SLEEPING_WORD) !== 0 && Atomics.exchange(this.ctl, READER_SLEEPING_WORD, 0) !== 0) {
      if (this.bell !== null) this.bell.ring();
      else Atomics.notify(this.ctl, HEAD_WORD);
    }
  }

  /** Whether more than `bytes` of the data area are in use; loads TAIL only when the last look says so. */
  usesMoreThan(bytes: number): boolean {
    if (((this.head - this.tail) | 0) <= bytes) return false;
    this.tail = Atomics.load(this.ctl, TAIL_WORD);
    return ((this.head - this.tail) | 0) > bytes;
  }

  /**
   * Resolves once the overflow list is empty, that is, every record written so far is in the
   * ring (at once if it already is): the producer's backpressure signal, like a stream's
   * 'drain'. Rejects if close() comes first.
   */
  flushed(): Promise<void> {
    if (this.backlog === 0) return Promise.resolve();
    if (this.closed) return Promise.reject(this.closedWithBacklog());
    return new Promise((resolve, reject) => this.flushWaiters.push({ resolve, reject }));
  }

  /** Stops waiting for space (for shutdown) and lets the thread exit; records still in the overflow list stay unsent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.releaseKeepAlive();
    const waiters = this.flushWaiters;
    this.flushWaiters = [];
    for (const waiter of waiters) waiter.reject(this.closedWithBacklog());
    // Withdraw the announcement, so the reader stops notifying us.
    Atomics.store(this.ctl, WRITER_WAITING_WORD, 0);
    // Wake our own pending waitAsync (only this writer ever waits on TAIL); onSpace sees closed.
    if (this.waitPending) Atomics.notify(this.ctl, TAIL_WORD);
  }

  /**
   * Copies one record into the ring at HEAD without publishing it; false (nothing written) when
   * there is no room even after reloading TAIL. The caller publishes.
   */
  private place(bytes: Uint8Array, length: number): boolean {
    const span = recordSpan(length);
    let offset = this.head & this.mask;
    const toEnd = this.capacity - offset;
    // A record that does not fit before the end costs the rest of the area as padding.
    const needed = span <= toEnd ? span : toEnd + span;
    if (this.capacity - ((this.head - this.tail) | 0) < needed) {
      // Reads the reader's progress. Every byte before this TAIL was read by the reader before
      // it stored TAIL, so the plain stores below cannot overwrite a record it is still reading.
      this.tail = Atomics.load(this.ctl, TAIL_WORD);
      if (this.capacity - ((this.head - this.tail) | 0) < needed) return false;
    }
    if (span > toEnd) {
      this.words[offset >> 2] = PAD_MARKER;
      offset = 0;
    }
    this.words[offset >> 2] = length;
    this.copyPayload(bytes, length, offset + RECORD_HEADER_BYTES);
    this.head = (this.head + needed) | 0;
    return true;
  }

  /** Makes every record placed so far visible to the reader, and wakes it if it sleeps. */
  private publish(): void {
    // Publishes the records placed since the last publish: a reader that loads this HEAD also
    // sees their length prefixes, padding markers and payload bytes (plain stores above).
    Atomics.store(this.ctl, HEAD_WORD, this.head);
    this.wake();
  }

  /** Moves as much of the overflow list into the ring as fits, in order, with one publish. */
  private flush(): void {
    const list = this.overflow;
    let i = this.overflowStart;
    const first = i;
    while (i < list.length) {
      const record = list[i]!;
      if (!this.place(record, record.length)) break;
      this.overflowBytes -= record.length;
      i++;
    }
    if (i === first) return;
    if (i === list.length) {
      this.overflow = [];
      i = 0;
      this.settleFlushWaiters();
    } else if (i >= 1024 && i * 2 >= list.length) {
      // Drop the sent prefix once it is most of the array, so a long backlog costs O(n) overall.
      list.splice(0, i);
      i = 0;
    } else {
      list.fill(EMPTY_RECORD, first, i); // let the sent copies be collected
    }
    this.overflowStart = i;
    this.publish();
  }

  /** Flushes what fits and, while records remain, sleeps on TAIL until the reader frees space. */
  private waitForSpace(): void {
    while (!this.closed && this.backlog > 0) {
      // Announce first, look second (the handshake at the top of the file): the reader checks
      // this flag after every TAIL store, so either it sees the flag and notifies us, or the
      // load below (and those in flush) already sees its new TAIL.
      Atomics.store(this.ctl, WRITER_WAITING_WORD, 1);
      this.tail = Atomics.load(this.ctl, TAIL_WORD);
      this.flush();
      if (this.backlog === 0) break;
      // this.tail is the TAIL we last loaded (after the announcement) and found too small.
      const wait = sleepUntilChanged(this.ctl, TAIL_WORD, WRITER_WAITING_WORD, this.tail);
      if (wait !== undefined) {
        this.waitPending = true;
        this.keepAlive ??= setInterval(keepAliveTick, KEEP_ALIVE_MS);
        void wait.then(this.onSpace);
        return;
      }
      // The reader moved TAIL between our load and the wait; look again.
    }
    Atomics.store(this.ctl, WRITER_WAITING_WORD, 0);
    this.releaseKeepAlive();
  }

  private settleFlushWaiters(): void {
    if (this.flushWaiters.length === 0) return;
    const waiters = this.flushWaiters;
    this.flushWaiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  private closedWithBacklog(): Error {
    return new Error(`RingWriter closed with ${this.backlog} records still in its overflow list; they were not sent`);
  }

  private releaseKeepAlive(): void {
    if (this.keepAlive !== undefined) {
      clearInterval(this.keepAlive);
      this.keepAlive = undefined;
    }
  }

  /**
   * Copies the payload without allocating: one native set() when the source is exactly the
   * record, else int32 words (4 per iteration) then the last 0..3 bytes.
   */
  private copyPayload(bytes: Uint8Array, length: number, at: number): void {
    if (length === bytes.length && length >= NATIVE_COPY_MIN_BYTES) {
      this.data.set(bytes, at);
      return;
    }
    // The road not taken: set(bytes.subarray(0, length)) allocates a view per record. Measured
    // here (Node 20, x86-64), the word loop is as fast up to ~256 bytes and about 1.5-2x slower
    // at 1 KiB (~0.3 us); pass a source of exactly `length` bytes to get the native copy.
    let i = 0;
    if ((bytes.byteOffset & 3) === 0) {
      if (bytes !== this.sourceBytes) {
        // Callers reuse one encode buffer, so this runs once per buffer, not per record. It keeps
        // that buffer alive until another one is written.
        this.sourceBytes = bytes;
        this.sourceWords = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2);
      }
      const source = this.sourceWords;
      const target = this.words;
      const base = at >> 2; // `at` is 8-aligned: records are
      const count = length >> 2;
      let w = 0;
      for (; w + 4 <= count; w += 4) {
        target[base + w] = source[w]!;
        target[base + w + 1] = source[w + 1]!;
        target[base + w + 2] = source[w + 2]!;
        target[base + w + 3] = source[w + 3]!;
      }
      for (; w < count; w++) target[base + w] = source[w]!;
      i = count << 2;
    }
    const data = this.data;
    for (; i < length; i++) data[at + i] = bytes[i]!;
  }
}

const EMPTY_RECORD = new Uint8Array(0);

/** What will call pump() next: nothing, a setImmediate, a pending waitAsync, or the doorbell. */
const Pending = { None: 0, Immediate: 1, Wait: 2, Bell: 3 } as const;
type Pending = (typeof Pending)[keyof typeof Pending];

/**
 * The consuming side of one ring. Concurrency contract: exactly one thread uses this reader and
 * exactly one other thread writes the ring; the roles never change (see the top of ring.ts).
 *
 * Records are read in place: onRecord gets an offset into `bytes`, valid only during the call,
 * and the space is handed back to the writer after the whole batch.
 */
export class RingReader {
  /** A Buffer over the ring's data area; record payloads are read from it. */
  readonly bytes: Buffer;
  private readonly ctl: Int32Array;
  private readonly words: Int32Array;
  /** Bytes in the ring's data area. */
  readonly capacity: number;
  private readonly mask: number;
  /** Our TAIL: only this reader changes it. */
  private tail: number;
  private draining = false;
  private onRecord: RecordHandler | undefined;
  private pending: Pending = Pending.None;
  private keepAlive: NodeJS.Timeout | undefined;
  private readonly pumpBound = (): void => this.pump();
  private readonly onWake = (): void => {
    this.pending = Pending.None;
    // The writer clears the flag when it notifies; stop() and a timed-out wait do not.
    Atomics.store(this.ctl, READER_SLEEPING_WORD, 0);
    this.pump();
  };
  /** Makes the doorbell watch on first start(); null: sleep in Atomics.waitAsync. */
  private readonly watchBell: WatchBell | null;
  private bell: BellWatch | null = null;
  private readonly onBell = (): void => {
    // Rings coalesce and may come while we are awake anyway (a ring for a sleep we already
    // left): only a sleeping reader acts on one.
    if (this.pending !== Pending.Bell) return;
    this.onWake();
  };

  /**
   * `watchBell`: sleep on a doorbell (./doorbell.ts) instead of Atomics.waitAsync; the writer
   * must then be given the same doorbell's ringing end.
   */
  constructor(sab: SharedArrayBuffer, watchBell: WatchBell | null = null) {
    this.watchBell = watchBell;
    const views = attachRing(sab, 'RingReader');
    this.bytes = views.data;
    this.ctl = views.ctl;
    this.words = views.words;
    this.capacity = views.capacity;
    this.mask = views.capacity - 1;
    this.tail = Atomics.load(this.ctl, TAIL_WORD);
  }

  /**
   * Bytes of the data area in use now: records published and not yet drained, with their
   * headers and padding, from 0 to capacity. For metrics: one load of HEAD, nothing stored.
   */
  get bytesUsed(): number {
    return (Atomics.load(this.ctl, HEAD_WORD) - this.tail) | 0;
  }

  /** Whether a drain() is running now (its onRecord is on the stack). */
  get isDraining(): boolean {
    return this.draining;
  }

  /** Whether records are published and not yet drained: one load of HEAD. */
  get hasRecords(): boolean {
    return Atomics.load(this.ctl, HEAD_WORD) !== this.tail;
  }

  /**
   * Calls onRecord(offset, length) for every record published now, in order, then hands the
   * space back to the writer (waking it if it waits for space); returns how many. If onRecord
   * throws, the records before it and that record itself count as read, and the error
   * propagates; later records stay for the next drain. Not reentrant.
   */
  drain(onRecord: RecordHandler): number {
    if (this.draining) throw new Error('RingReader.drain() called from inside onRecord: handle the record, then return');
    // Acquires the writer's records: every byte it stored before publishing this HEAD is visible.
    const head = Atomics.load(this.ctl, HEAD_WORD);
    let position = this.tail;
    if (position === head) return 0;
    const words = this.words;
    let count = 0;
    this.draining = true;
    try {
      while (position !== head) {
        const offset = position & this.mask;
        const length = words[offset >> 2]!;
        if (length === PAD_MARKER) {
          position = (position + this.capacity - offset) | 0;
          continue;
        }
        position = (position + recordSpan(length)) | 0;
        count++;
        onRecord(offset + RECORD_HEADER_BYTES, length);
      }
    } finally {
      this.draining = false;
      this.tail = position;
      // Frees everything before `position`: our reads of those bytes are done, and a writer that
      // loads this TAIL may overwrite them.
      Atomics.store(this.ctl, TAIL_WORD, position);
      // The writer announces its wait before its last look at TAIL (same handshake as HEAD).
      if (Atomics.load(this.ctl, WRITER_WAITING_WORD) !== 0 && Atomics.exchange(this.ctl, WRITER_WAITING_WORD, 0) !== 0) {
        Atomics.notify(this.ctl, TAIL_WORD);
      }
    }
    return count;
  }

  /**
   * Watches the ring: drains into onRecord from the event loop (never inside start()), once per
   * loop turn while records keep coming, and sleeps with Atomics.waitAsync when the ring is
   * empty, so an idle ring costs nothing and a busy one no notify per record. Keeps the thread
   * alive until stop(). An error thrown by onRecord surfaces as an uncaught error in this
   * thread; watching goes on.
   */
  start(onRecord: RecordHandler): void {
    if (this.onRecord !== undefined) throw new Error('RingReader.start() while already watching: call stop() first');
    this.onRecord = onRecord;
    if (this.watchBell !== null) {
      this.bell ??= this.watchBell(this.onBell);
      this.bell.keepAlive(true);
    } else {
      this.keepAlive = setInterval(keepAliveTick, KEEP_ALIVE_MS);
    }
    // A wait or immediate still pending from before a stop() resumes the pump by itself.
    if (this.pending === Pending.None) this.schedule();
  }

  /** Stops watching and lets the thread exit; a pending wait is woken and ignored. Records left in the ring stay there. */
  stop(): void {
    if (this.onRecord === undefined) return;
    this.onRecord = undefined;
    clearInterval(this.keepAlive);
    this.keepAlive = undefined;
    this.bell?.keepAlive(false);
    if (this.pending === Pending.Bell) {
      Atomics.store(this.ctl, READER_SLEEPING_WORD, 0);
      this.pending = Pending.None;
    }
    if (this.pending === Pending.Wait) {
      // Withdraw the announcement, then wake our own waitAsync (only this reader waits on HEAD).
      Atomics.store(this.ctl, READER_SLEEPING_WORD, 0);
      Atomics.notify(this.ctl, HEAD_WORD);
    }
  }

  /** stop(), and stops watching the doorbell for good (its fd stays open: the ring's owner closes it). */
  close(): void {
    this.stop();
    this.bell?.close();
    this.bell = null;
  }

  private schedule(): void {
    this.pending = Pending.Immediate;
    setImmediate(this.pumpBound);
  }

  private pump(): void {
    this.pending = Pending.None;
    const onRecord = this.onRecord;
    if (onRecord === undefined) return;
    let count: number;
    try {
      count = this.drain(onRecord);
    } catch (error) {
      this.schedule();
      throw error;
    }
    if (count > 0) {
      // Busy: look again next loop turn rather than sleep; other I/O runs in between.
      this.schedule();
      return;
    }
    // Empty: announce sleep, then look once more (the handshake at the top of the file), so a
    // record published between the drain and the announcement is not slept through.
    Atomics.store(this.ctl, READER_SLEEPING_WORD, 1);
    const head = Atomics.load(this.ctl, HEAD_WORD);
    if (head === this.tail) {
      if (this.watchBell !== null) {
        // A ring after our announcement leaves the eventfd readable until we read it: unlike a
        // notify before waitAsync queues, it cannot be missed, so there is nothing more to check.
        this.pending = Pending.Bell;
        return;
      }
      const wait = sleepUntilChanged(this.ctl, HEAD_WORD, READER_SLEEPING_WORD, head);
      if (wait !== undefined) {
        this.pending = Pending.Wait;
        void wait.then(this.onWake);
        return;
      }
    }
    // Records arrived after all: take the announcement back and drain them next turn.
    Atomics.store(this.ctl, READER_SLEEPING_WORD, 0);
    this.schedule();
  }
}
