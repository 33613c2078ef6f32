// The manager's index of clients: client id -> entry, a small integer that
// names the client for as long as it has state (a held poll or queued
// messages). The manager keeps each client's fields in arrays indexed by entry
// (./held-polls.ts) and its queue, if any, in a Map by entry; this file knows
// only ids.
//
// Why not a Map<string, ...>: at a million idle subscribers a Map costs, per
// client, the id as a heap string (16 bytes of header plus the characters,
// promoted to old space when it outlives a scavenge: every held poll does),
// and a hash table that doubles (28-37 bytes). Here an id costs its bytes,
// rounded up to 8, in an arena, and nothing on the JS heap: lookups hash and
// compare the bytes straight from a ring record or the characters of a string,
// so a POLL record makes no garbage at all.
//
// Shape, all in typed arrays:
//   buckets  Int32Array, open addressing with linear probing in Robin Hood
//            order: the entry filed here, or EMPTY. A home is
//            floor(hash * buckets / 2^32) (any bucket count, not only powers of
//            two, so the table can grow by 1.5x). Beside it, a Uint8Array of
//            each bucket's distance from its entry's home (capped at 255, past
//            which it is computed from the entry's hash). Robin Hood keeps the
//            entries of one home together and in home order, so a lookup
//            compares only the entries of its own home and stops at the first
//            entry nearer its home than the lookup is to its own: a miss is
//            decided from these two arrays without reading any entry.
//            Deletion shifts the following entries of the run back by one
//            until one sits at its home (no tombstones), so runs never grow
//            with churn, again without reading entries.
//   entries  in pages of ENTRY_PAGE, never moved (entry numbers stay valid
//            while the table grows): hash u32 | arena ref u32 | id length u8.
//            Freed entries are threaded into a LIFO list through their ref;
//            length 0 marks a free entry.
//   arena    pages of 64 KiB. An id takes a chunk of its length rounded up to 8
//            bytes (8 size classes for ids of 1-64 bytes); freed chunks go on a
//            free list per class (its link is stored in the chunk itself) and
//            are reused first. A chunk never straddles pages (a page's last
//            < 64 bytes may stay unused).
//
// Memory per client, 16-byte id: 16 (arena) + 9 (entry) + 5 / load (index:
// 6.25-9.4 at a load of 0.53-0.8) = 31-34.5 bytes. The index grows by 1.5x
// when the load passes 0.8, re-filing every entry from its stored hash (entry
// pages are read in order): around 1M clients the growth allocates the new
// 1.5x index beside the old one (a transient of both: 12.6 MB for the growth
// at 807k clients, 19 MB at 1.2M) and pauses the thread to re-file (30-50 ms,
// measured in docs/ARCHITECTURE.md); doubling would
// halve the number of pauses and cost up to 12.5 bytes per client instead of
// 9.4. Entries and arena pages grow a page at a time and never move. Nothing
// shrinks: after a peak of N clients the table keeps N's entries and arena
// pages and its index (reused by the next clients), so memory under churn is
// bounded by the peak, and for the arena by the peak of each size class (1M
// 64-byte ids replaced by 1M 8-byte ids keep both: 72 MB, documented rather
// than compacted).
//
// Hashes come from the caller (src/protocol/client-id-hash.ts, keyed per process), so
// that a record's bytes are hashed once per lookup and insert, and so tests
// can force collisions. A hash must be the one of the same id: the table
// compares stored hashes before bytes.
//
// Single-threaded: the manager's thread owns the table; nothing is shared.

const ENTRY_PAGE_BITS = 12;
const ENTRY_PAGE = 1 << ENTRY_PAGE_BITS;
const ENTRY_MASK = ENTRY_PAGE - 1;

/** Arena chunks are multiples of this many bytes; a ref counts these units. */
const UNIT_BYTES = 8;
const UNIT_SHIFT = 3;
const ARENA_PAGE_BYTES = 1 << 16;
const PAGE_UNIT_BITS = 16 - UNIT_SHIFT;
const PAGE_UNITS = 1 << PAGE_UNIT_BITS;
const PAGE_UNIT_MASK = PAGE_UNITS - 1;
/** Refs are u32 counts of units: 32 GiB of ids. */
const MAX_UNITS = 2 ** 32 - 1;
/** Ends a chunk free list. */
const NO_CHUNK = 0xffffffff;

/** Ids are 1..64 bytes (src/protocol/client-id.ts). */
export const MAX_ID_BYTES = 64;
const SIZE_CLASSES = MAX_ID_BYTES / UNIT_BYTES;

const EMPTY = -1;
/** A stored distance this high means "at least": the real one is computed from the entry's hash. */
const MAX_DIST = 255;
const MIN_BUCKETS = 1024;
/** Grow when more than this share of the buckets is in use. */
const MAX_LOAD = 0.8;
const GROWTH = 1.5;
/** Entries are int32 bucket values. */
const MAX_ENTRIES = 2 ** 31 - 1;

/** Exact bytes held by the table's typed arrays. */
export interface ClientTableMemory {
  /** The index: entry and distance per bucket. */
  buckets: number;
  entries: number;
  arena: number;
}

function home(hash: number, buckets: number): number {
  // hash < 2^32, so the quotient is below `buckets` (< 2^31) and `| 0` floors it.
  return ((hash * buckets) / 4294967296) | 0;
}

export class ClientTable {
  private buckets: Int32Array;
  /** Per bucket: how far its entry is from its home, capped at MAX_DIST (meaningless for an EMPTY bucket). */
  private dists: Uint8Array;
  private growAt: number;
  private count = 0;

  private readonly hashes: Uint32Array[] = [];
  /** Arena ref (in units) of the entry's id; for a free entry, the next free entry + 1 (0 ends the list). */
  private readonly refs: Uint32Array[] = [];
  /** Id length, 1..64; 0 for a free entry. */
  private readonly lengths: Uint8Array[] = [];
  /** Entries below this have been handed out at least once. */
  private entriesUsed = 0;
  private freeEntry = -1;

  private readonly arena: Uint8Array[] = [];
  /** Next unused unit of the arena. */
  private arenaTop = 0;
  /** Head of the free chunk list of each size class (index = units), NO_CHUNK when empty. */
  private readonly freeChunks: number[] = new Array<number>(SIZE_CLASSES + 1).fill(NO_CHUNK);

  /** `initialClients`: room to make before the first growth (the bucket array only). */
  constructor(initialClients = 0) {
    const buckets = Math.max(MIN_BUCKETS, Math.ceil(initialClients / MAX_LOAD) + 1);
    this.buckets = new Int32Array(buckets).fill(EMPTY);
    this.dists = new Uint8Array(buckets);
    this.growAt = Math.floor(buckets * MAX_LOAD);
  }

  /** Clients in the table. */
  get size(): number {
    return this.count;
  }

  /** Buckets of the hash index (for tests of growth). */
  get bucketCount(): number {
    return this.buckets.length;
  }

  /** The entry of the id in `bytes[start, start + length)` whose hash is `hash`, or -1. */
  findBytes(hash: number, bytes: Uint8Array, start: number, length: number): number {
    const buckets = this.buckets;
    const dists = this.dists;
    const cap = buckets.length;
    let i = home(hash, cap);
    for (let d = 0; ; d++) {
      const entry = buckets[i]!;
      if (entry === EMPTY) return -1;
      let distance = dists[i]!;
      if (distance === MAX_DIST && d >= MAX_DIST) distance = this.distanceAt(i, entry, cap);
      // Robin Hood order: an entry nearer its home than we are to ours means ours is not here.
      if (distance < d) return -1;
      if (distance === d) {
        const page = entry >>> ENTRY_PAGE_BITS;
        const index = entry & ENTRY_MASK;
        if (this.hashes[page]![index] === hash && this.lengths[page]![index] === length) {
          const ref = this.refs[page]![index]!;
          const chunk = this.arena[ref >>> PAGE_UNIT_BITS]!;
          const at = (ref & PAGE_UNIT_MASK) << UNIT_SHIFT;
          let k = 0;
          while (k < length && chunk[at + k] === bytes[start + k]) k++;
          if (k === length) return entry;
        }
      }
      if (++i === cap) i = 0;
    }
  }

  /** The entry of `id` (ASCII) whose hash is `hash`, or -1. */
  findString(hash: number, id: string): number {
    const buckets = this.buckets;
    const dists = this.dists;
    const cap = buckets.length;
    const length = id.length;
    let i = home(hash, cap);
    for (let d = 0; ; d++) {
      const entry = buckets[i]!;
      if (entry === EMPTY) return -1;
      let distance = dists[i]!;
      if (distance === MAX_DIST && d >= MAX_DIST) distance = this.distanceAt(i, entry, cap);
      if (distance < d) return -1;
      if (distance === d) {
        const page = entry >>> ENTRY_PAGE_BITS;
        const index = entry & ENTRY_MASK;
        if (this.hashes[page]![index] === hash && this.lengths[page]![index] === length) {
          const ref = this.refs[page]![index]!;
          const chunk = this.arena[ref >>> PAGE_UNIT_BITS]!;
          const at = (ref & PAGE_UNIT_MASK) << UNIT_SHIFT;
          let k = 0;
          while (k < length && chunk[at + k] === id.charCodeAt(k)) k++;
          if (k === length) return entry;
        }
      }
      if (++i === cap) i = 0;
    }
  }

  /** Adds the id in `bytes[start, start + length)` (1..64 ASCII bytes, not in the table) with its hash; returns its entry. */
  addBytes(hash: number, bytes: Uint8Array, start: number, length: number): number {
    const entry = this.newEntry(hash, length);
    const ref = this.refs[entry >>> ENTRY_PAGE_BITS]![entry & ENTRY_MASK]!;
    const chunk = this.arena[ref >>> PAGE_UNIT_BITS]!;
    const at = (ref & PAGE_UNIT_MASK) << UNIT_SHIFT;
    for (let k = 0; k < length; k++) chunk[at + k] = bytes[start + k]!;
    return entry;
  }

  /** Adds `id` (1..64 ASCII characters, not in the table) with its hash; returns its entry. */
  addString(hash: number, id: string): number {
    const length = id.length;
    const entry = this.newEntry(hash, length);
    const ref = this.refs[entry >>> ENTRY_PAGE_BITS]![entry & ENTRY_MASK]!;
    const chunk = this.arena[ref >>> PAGE_UNIT_BITS]!;
    const at = (ref & PAGE_UNIT_MASK) << UNIT_SHIFT;
    for (let k = 0; k < length; k++) chunk[at + k] = id.charCodeAt(k);
    return entry;
  }

  /** Removes a client; its entry number and id bytes are reused by later adds. */
  delete(entry: number): void {
    const page = entry >>> ENTRY_PAGE_BITS;
    const index = entry & ENTRY_MASK;
    const length = this.lengths[page]?.[index];
    if (length === undefined || length === 0) throw new RangeError(`client table: entry ${entry} is not in use`);
    const buckets = this.buckets;
    const dists = this.dists;
    const cap = buckets.length;
    let i = home(this.hashes[page]![index]!, cap);
    while (buckets[i] !== entry) {
      if (buckets[i] === EMPTY) throw new Error(`client table: entry ${entry} is missing from its run`);
      if (++i === cap) i = 0;
    }
    // Backward shift: the following entries of the run move back by one, each
    // a step nearer its home, until one is at its home or the run ends.
    for (;;) {
      const j = i + 1 === cap ? 0 : i + 1;
      const next = buckets[j]!;
      if (next === EMPTY) break;
      let distance = dists[j]!;
      if (distance === 0) break;
      if (distance === MAX_DIST) distance = this.distanceAt(j, next, cap);
      buckets[i] = next;
      dists[i] = distance - 1 < MAX_DIST ? distance - 1 : MAX_DIST;
      i = j;
    }
    buckets[i] = EMPTY;
    dists[i] = 0;

    const ref = this.refs[page]![index]!;
    const units = (length + UNIT_BYTES - 1) >>> UNIT_SHIFT;
    this.writeLink(ref, this.freeChunks[units]!);
    this.freeChunks[units] = ref;
    this.lengths[page]![index] = 0;
    this.refs[page]![index] = this.freeEntry + 1;
    this.freeEntry = entry;
    this.count--;
  }

  /** The id of an entry in use, as a new string (for listings and tests; lookups never need it). */
  idOf(entry: number): string {
    const page = entry >>> ENTRY_PAGE_BITS;
    const index = entry & ENTRY_MASK;
    const length = this.lengths[page]?.[index];
    if (length === undefined || length === 0) throw new RangeError(`client table: entry ${entry} is not in use`);
    const ref = this.refs[page]![index]!;
    const at = (ref & PAGE_UNIT_MASK) << UNIT_SHIFT;
    return String.fromCharCode(...this.arena[ref >>> PAGE_UNIT_BITS]!.subarray(at, at + length));
  }

  /** The client-id hash an entry in use was added with. */
  hashOf(entry: number): number {
    return this.hashes[entry >>> ENTRY_PAGE_BITS]![entry & ENTRY_MASK]!;
  }

  /** Whether `entry` is a client of the table now. */
  has(entry: number): boolean {
    return (this.lengths[entry >>> ENTRY_PAGE_BITS]?.[entry & ENTRY_MASK] ?? 0) !== 0;
  }

  /**
   * Occupied buckets from the home of `hash` to the first empty one: what a
   * lookup of an absent id with this hash walks. For tests and diagnostics.
   */
  runLength(hash: number): number {
    const buckets = this.buckets;
    const cap = buckets.length;
    let i = home(hash, cap);
    let n = 0;
    while (buckets[i] !== EMPTY && n < cap) {
      n++;
      if (++i === cap) i = 0;
    }
    return n;
  }

  /** Exact bytes of the typed arrays the table holds (its JS objects are a few hundred bytes more). */
  memory(): ClientTableMemory {
    return {
      buckets: this.buckets.byteLength + this.dists.byteLength,
      entries: this.hashes.length * ENTRY_PAGE * (Uint32Array.BYTES_PER_ELEMENT * 2 + Uint8Array.BYTES_PER_ELEMENT),
      arena: this.arena.length * ARENA_PAGE_BYTES,
    };
  }

  /** Takes an entry and an arena chunk for an id of `length` bytes, and files the entry in the index. */
  private newEntry(hash: number, length: number): number {
    if (!(length >= 1 && length <= MAX_ID_BYTES)) throw new RangeError(`client table: an id has 1-${MAX_ID_BYTES} bytes, got ${length}`);
    if (this.count >= this.growAt) this.grow();
    let entry = this.freeEntry;
    if (entry >= 0) {
      this.freeEntry = this.refs[entry >>> ENTRY_PAGE_BITS]![entry & ENTRY_MASK]! - 1;
    } else {
      if (this.entriesUsed === MAX_ENTRIES) throw new RangeError('client table: too many clients');
      entry = this.entriesUsed++;
      if (entry >>> ENTRY_PAGE_BITS === this.hashes.length) {
        this.hashes.push(new Uint32Array(ENTRY_PAGE));
        this.refs.push(new Uint32Array(ENTRY_PAGE));
        this.lengths.push(new Uint8Array(ENTRY_PAGE));
      }
    }
    const page = entry >>> ENTRY_PAGE_BITS;
    const index = entry & ENTRY_MASK;
    this.hashes[page]![index] = hash;
    this.lengths[page]![index] = length;
    this.refs[page]![index] = this.takeChunk((length + UNIT_BYTES - 1) >>> UNIT_SHIFT);
    this.place(entry, hash);
    this.count++;
    return entry;
  }

  /** A chunk of `units` units: the last freed one of its class, else the next at the arena's top. */
  private takeChunk(units: number): number {
    const free = this.freeChunks[units]!;
    if (free !== NO_CHUNK) {
      this.freeChunks[units] = this.readLink(free);
      return free;
    }
    let top = this.arenaTop;
    const within = top % PAGE_UNITS;
    if (within + units > PAGE_UNITS) top += PAGE_UNITS - within;
    if (top + units > MAX_UNITS) throw new RangeError('client table: the id arena is full');
    if (Math.floor(top / PAGE_UNITS) === this.arena.length) this.arena.push(new Uint8Array(ARENA_PAGE_BYTES));
    this.arenaTop = top + units;
    return top;
  }

  /** A free chunk's first 4 bytes hold the next free chunk of its class (little-endian). */
  private writeLink(ref: number, next: number): void {
    const chunk = this.arena[ref >>> PAGE_UNIT_BITS]!;
    const at = (ref & PAGE_UNIT_MASK) << UNIT_SHIFT;
    chunk[at] = next;
    chunk[at + 1] = next >>> 8;
    chunk[at + 2] = next >>> 16;
    chunk[at + 3] = next >>> 24;
  }

  private readLink(ref: number): number {
    const chunk = this.arena[ref >>> PAGE_UNIT_BITS]!;
    const at = (ref & PAGE_UNIT_MASK) << UNIT_SHIFT;
    return (chunk[at]! | (chunk[at + 1]! << 8) | (chunk[at + 2]! << 16) | (chunk[at + 3]! << 24)) >>> 0;
  }

  /** Re-files every entry in an index 1.5x larger, from the stored hashes (entry pages in order). */
  private grow(): void {
    const cap = Math.ceil(this.buckets.length * GROWTH);
    this.buckets = new Int32Array(cap).fill(EMPTY);
    this.dists = new Uint8Array(cap);
    this.growAt = Math.floor(cap * MAX_LOAD);
    for (let page = 0; page < this.lengths.length; page++) {
      const lengths = this.lengths[page]!;
      const hashes = this.hashes[page]!;
      const end = Math.min(ENTRY_PAGE, this.entriesUsed - page * ENTRY_PAGE);
      for (let index = 0; index < end; index++) if (lengths[index] !== 0) this.place(page * ENTRY_PAGE + index, hashes[index]!);
    }
  }

  /**
   * Files `entry` (whose hash is `hash`) in Robin Hood order: it takes the
   * first bucket whose entry is nearer its home than `entry` is to its own,
   * and that entry goes on looking the same way (or the first empty bucket).
   */
  private place(entry: number, hash: number): void {
    const buckets = this.buckets;
    const dists = this.dists;
    const cap = buckets.length;
    let i = home(hash, cap);
    let moving = entry;
    for (let d = 0; ; d++) {
      const other = buckets[i]!;
      if (other === EMPTY) {
        buckets[i] = moving;
        dists[i] = d < MAX_DIST ? d : MAX_DIST;
        return;
      }
      let distance = dists[i]!;
      if (distance === MAX_DIST && d >= MAX_DIST) distance = this.distanceAt(i, other, cap);
      if (distance < d) {
        buckets[i] = moving;
        dists[i] = d < MAX_DIST ? d : MAX_DIST;
        moving = other;
        d = distance;
      }
      if (++i === cap) i = 0;
    }
  }

  /** How far bucket `i`, holding `entry`, is from the entry's home: from its hash, for the distances past MAX_DIST. */
  private distanceAt(i: number, entry: number, cap: number): number {
    const h = home(this.hashes[entry >>> ENTRY_PAGE_BITS]![entry & ENTRY_MASK]!, cap);
    return i >= h ? i - h : i - h + cap;
  }
}
