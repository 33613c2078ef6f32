// The hash of a client id for the manager's client table
// (src/manager/client-table.ts) and the prompt board (src/ring/prompt-board.ts),
// computed alike from the id's bytes in a ring record (a POLL) and from a JS
// string (an app's send, a worker's poll): ids are ASCII (src/protocol/client-id.ts), so the
// UTF-16 units of the string are the bytes. The two functions must agree on
// every id; test/client-id-hash.ts checks them against each other and the
// round function against the reference vectors.
//
// Why keyed, and why this one: anyone who can reach the HTTP port picks client
// ids, so an unkeyed hash would let one peer make a million ids that land in
// one run of the table and turn every lookup into a walk of that run. The
// key is drawn at random when the process starts, as V8 seeds the hash of its
// own Map keys. The function is HalfSipHash-1-3 (SipHash's 32-bit variant with
// one compression and three finalization rounds, as Linux's hsiphash on 32-bit
// machines): a keyed PRF for hash tables, not a MAC, whose output an attacker
// cannot predict without the key. It costs about 40 ns for a 16-byte id here
// (bench/manager-poll-cpu.ts measures the whole POLL path); an unkeyed
// multiply-xor hash would be about half that and offer nothing against
// chosen ids. No allocation: the state lives in four local int32s.

import { randomFillSync } from 'node:crypto';

// One key per process: the main thread draws it, and each worker thread, which
// loads its own copy of this module, adopts it at start (adoptHashKey), so a
// worker and the manager put a client in the same prompt-board bucket.
const key = randomFillSync(new Uint32Array(2));
let K0 = key[0]! | 0;
let K1 = key[1]! | 0;

/** This thread's key, to hand to a worker thread (workerData) for adoptHashKey(). */
export function hashKey(): readonly [number, number] {
  return [K0 >>> 0, K1 >>> 0];
}

/** Makes this thread hash with `key` (the main thread's hashKey()); call before any hash is kept. */
export function adoptHashKey(key: readonly [number, number]): void {
  K0 = key[0] | 0;
  K1 = key[1] | 0;
}

/** The hash (a uint32) of the ASCII id in `bytes[start, start + length)`. */
export function hashIdBytes(bytes: Uint8Array, start: number, length: number): number {
  return halfSipHashBytes(bytes, start, length, K0, K1, 1, 3);
}

/** The hash (a uint32) of `id`, equal to hashIdBytes() of its bytes: `id` must be ASCII (a valid client id is). */
export function hashIdString(id: string): number {
  return halfSipHashString(id, K0, K1, 1, 3);
}

/**
 * HalfSipHash-c-d with a 32-bit output over bytes[start, start + length),
 * key (k0, k1) as two little-endian words. Exported for the test against the
 * reference vectors (HalfSipHash-2-4); the table uses 1-3 with the process key.
 */
export function halfSipHashBytes(bytes: Uint8Array, start: number, length: number, k0: number, k1: number, c: number, d: number): number {
  let v0 = k0 | 0;
  let v1 = k1 | 0;
  let v2 = 0x6c796765 ^ k0;
  let v3 = 0x74656462 ^ k1;
  const end = start + (length & ~3);
  let i = start;
  let m = 0;
  for (;;) {
    if (i < end) {
      m = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
      i += 4;
    } else {
      // The last block: the 0-3 bytes left, and the length in the top byte.
      const left = length & 3;
      m = length << 24;
      if (left >= 3) m |= bytes[i + 2]! << 16;
      if (left >= 2) m |= bytes[i + 1]! << 8;
      if (left >= 1) m |= bytes[i]!;
      i = -1;
    }
    v3 ^= m;
    for (let r = 0; r < c; r++) {
      v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
      v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
      v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
      v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
    }
    v0 ^= m;
    if (i < 0) break;
  }
  v2 ^= 0xff;
  for (let r = 0; r < d; r++) {
    v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
  }
  return (v1 ^ v3) >>> 0;
}

/** halfSipHashBytes() over the UTF-16 units of `id`, each taken as one byte (ids are ASCII). */
export function halfSipHashString(id: string, k0: number, k1: number, c: number, d: number): number {
  const length = id.length;
  let v0 = k0 | 0;
  let v1 = k1 | 0;
  let v2 = 0x6c796765 ^ k0;
  let v3 = 0x74656462 ^ k1;
  const end = length & ~3;
  let i = 0;
  let m = 0;
  for (;;) {
    if (i < end) {
      m = id.charCodeAt(i) | (id.charCodeAt(i + 1) << 8) | (id.charCodeAt(i + 2) << 16) | (id.charCodeAt(i + 3) << 24);
      i += 4;
    } else {
      const left = length & 3;
      m = length << 24;
      if (left >= 3) m |= id.charCodeAt(i + 2) << 16;
      if (left >= 2) m |= id.charCodeAt(i + 1) << 8;
      if (left >= 1) m |= id.charCodeAt(i);
      i = -1;
    }
    v3 ^= m;
    for (let r = 0; r < c; r++) {
      v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
      v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
      v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
      v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
    }
    v0 ^= m;
    if (i < 0) break;
  }
  v2 ^= 0xff;
  for (let r = 0; r < d; r++) {
    v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
  }
  return (v1 ^ v3) >>> 0;
}
