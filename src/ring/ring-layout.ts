// The shared memory of one ring: where every word and byte lives. ring.ts says who
// writes which word and when; this file is the only place that knows offsets.
//
// One SharedArrayBuffer per ring: a header of three cache lines, then the data area.
//
//  byte 0            128                      256                      384                 384 + capacity
//  +-----------------+------------------------+------------------------+-----------------------------+
//  | constants       | writer's line          | reader's line          | data area                   |
//  | MAGIC CAPACITY  | HEAD  READER_SLEEPING  | TAIL  WRITER_WAITING   | records, 8-byte aligned     |
//  +-----------------+------------------------+------------------------+-----------------------------+
//     i32 words 0,1     i32 words 32, 33         i32 words 64, 65
//
//  MAGIC            RING_MAGIC, so a stray SharedArrayBuffer is refused at attach time.
//  CAPACITY         size of the data area in bytes: a power of two.
//  HEAD             bytes ever published by the writer, a free-running int32 counter (wraps at 2^32;
//                   capacity divides 2^32, so `counter & (capacity - 1)` is the offset in the area).
//                   Written only by the writer. The reader sleeps on this word.
//  READER_SLEEPING  1 while the reader is (about to be) asleep on HEAD. Set by the reader; cleared
//                   by the writer when it notifies, or by the reader when it wakes or finds work
//                   (the handshake is spelled out at the top of ring.ts). Beside HEAD because the
//                   writer reads it after every HEAD store, so both sit in the line it owns.
//  TAIL             bytes ever consumed by the reader, same counter scheme. Written only by the
//                   reader. The writer sleeps on this word while its overflow list waits for room.
//  WRITER_WAITING   1 while the writer is (about to be) asleep on TAIL, same handshake with the
//                   roles swapped. Beside TAIL because the reader reads it after every TAIL store.
//
//  Bytes used = HEAD - TAIL (as int32), always in [0, capacity]: HEAD == TAIL is empty, and
//  HEAD - TAIL == capacity is exactly full (the counters, not the offsets, tell the two apart).
//
// One record at data offset o (o % 8 == 0):
//
//    o            o + 4          o + 8                           o + 8 + length
//    +------------+--------------+-------------------------------+---------+
//    | length u32 | (unused) u32 | payload (length bytes)        | 0..7 pad|   next record at
//    +------------+--------------+-------------------------------+---------+   o + recordSpan(length)
//
//  The payload starts 8-aligned because V8 copies into a SharedArrayBuffer word by word only
//  when source and target are equally aligned (else byte by byte, 3-4x slower at 1 KiB), and
//  the writers' encode buffers (Buffer.alloc) start 8-aligned.
//
//  A record never wraps. When it does not fit between o and the end of the area, the writer
//  stores PAD_MARKER at o instead and puts the record at offset 0; the reader, on PAD_MARKER,
//  skips to offset 0. Records are 8-aligned and capacity is a multiple of 8, so there is always
//  room for the marker when o < capacity.

/**
 * 128, not 64: Intel's adjacent-line prefetcher pulls 64-byte lines in pairs, and Apple's ARM
 * cores use 128-byte lines, so 128 is what keeps the writer's and reader's words from false
 * sharing on both (crossbeam's CachePadded pads to 128 on x86_64 and aarch64 for this reason).
 */
export const CACHE_LINE_BYTES = 128;
const WORDS_PER_LINE = CACHE_LINE_BYTES / Int32Array.BYTES_PER_ELEMENT;

/** Header word indexes (into an Int32Array over the whole SharedArrayBuffer). */
export const MAGIC_WORD = 0;
export const CAPACITY_WORD = 1;
export const HEAD_WORD = 1 * WORDS_PER_LINE;
export const READER_SLEEPING_WORD = HEAD_WORD + 1;
export const TAIL_WORD = 2 * WORDS_PER_LINE;
export const WRITER_WAITING_WORD = TAIL_WORD + 1;

/** "RING" in ASCII. */
export const RING_MAGIC = 0x52494e47;

/** Where the data area starts in the SharedArrayBuffer. */
export const DATA_OFFSET = 3 * CACHE_LINE_BYTES;

export const MIN_CAPACITY = 4096;
/** The int32 counters stay unambiguous while capacity is well below 2^31. */
export const MAX_CAPACITY = 1 << 30;

/** Each record starts with its payload length as a u32, then 4 unused bytes so the payload is 8-aligned. */
export const RECORD_HEADER_BYTES = 8;
/** Every record starts at a multiple of this in the data area. */
export const RECORD_ALIGN = 8;
/** Stored where a length would be: "nothing more here, the next record is at offset 0". Read through an Int32Array, so -1. */
export const PAD_MARKER = -1;

/** Bytes a record of `length` payload bytes takes in the area: header plus payload rounded up to RECORD_ALIGN. */
export function recordSpan(length: number): number {
  return RECORD_HEADER_BYTES + ((length + RECORD_ALIGN - 1) & -RECORD_ALIGN);
}

/**
 * The longest payload one record may have in a ring of `capacity` bytes. A record that does not
 * fit before the end of the area costs the rest of the area as padding plus its own span, so
 * even an empty ring only guarantees room for a record whose span is at most half the area.
 */
export function maxRecordLength(capacity: number): number {
  return capacity / 2 - RECORD_HEADER_BYTES;
}

/** Allocates and initialises a ring whose data area holds `capacityBytes` bytes. */
export function createRingBuffer(capacityBytes: number): SharedArrayBuffer {
  if (
    !Number.isInteger(capacityBytes) ||
    capacityBytes < MIN_CAPACITY ||
    capacityBytes > MAX_CAPACITY ||
    (capacityBytes & (capacityBytes - 1)) !== 0
  ) {
    throw new RangeError(
      `ring capacity ${String(capacityBytes)} is not a power of two between ${MIN_CAPACITY} and ${MAX_CAPACITY} bytes: ` +
        'pick one such as 65536',
    );
  }
  const sab = new SharedArrayBuffer(DATA_OFFSET + capacityBytes);
  const ctl = new Int32Array(sab);
  // Plain stores are enough: no other thread can see this buffer until it is posted to one,
  // and postMessage / workerData orders everything written before it.
  ctl[MAGIC_WORD] = RING_MAGIC;
  ctl[CAPACITY_WORD] = capacityBytes;
  return sab;
}

/** The views one side of a ring works through, checked against the header. */
export interface RingViews {
  /** The header words, accessed only with Atomics. */
  ctl: Int32Array;
  /** The data area as bytes (payload). */
  data: Buffer;
  /** The data area as int32 words (length prefixes, word copies). */
  words: Int32Array;
  capacity: number;
}

/** Checks that `sab` is a ring made by createRingBuffer and returns views over it; `who` names the caller in errors. */
export function attachRing(sab: SharedArrayBuffer, who: string): RingViews {
  if (!(sab instanceof SharedArrayBuffer) || sab.byteLength < DATA_OFFSET + MIN_CAPACITY) {
    throw new TypeError(`${who} needs the SharedArrayBuffer returned by createRingBuffer(), got ${describe(sab)}`);
  }
  const ctl = new Int32Array(sab, 0, DATA_OFFSET / Int32Array.BYTES_PER_ELEMENT);
  const capacity = Atomics.load(ctl, CAPACITY_WORD);
  if (Atomics.load(ctl, MAGIC_WORD) !== RING_MAGIC || capacity !== sab.byteLength - DATA_OFFSET) {
    throw new TypeError(
      `${who}: this SharedArrayBuffer (${sab.byteLength} bytes) was not made by createRingBuffer(); pass the ring's own buffer`,
    );
  }
  return {
    ctl,
    data: Buffer.from(sab, DATA_OFFSET, capacity),
    words: new Int32Array(sab, DATA_OFFSET, capacity / Int32Array.BYTES_PER_ELEMENT),
    capacity,
  };
}

function describe(value: unknown): string {
  if (value instanceof SharedArrayBuffer) return `a SharedArrayBuffer of ${value.byteLength} bytes`;
  if (value instanceof ArrayBuffer) return 'an ArrayBuffer (not shared)';
  return value === null ? 'null' : typeof value;
}
