// The client table's hash: the round function against the reference
// vectors, and the byte and string forms agreeing on every id length.
import t from 'tap';
import { halfSipHashBytes, halfSipHashString, hashIdBytes, hashIdString } from '../src/protocol/client-id-hash.js';

// HalfSipHash-2-4, 32-bit output, key 00 01 .. 07, input 00 01 .. (i-1): the
// first vectors of vectors_hsip32 in the reference implementation (github.com/veorq/SipHash).
const VECTORS = [0x5b9f35a9, 0xb85a4727, 0x03a662fa, 0x04e7fe8a, 0x89466e2a, 0x69b6fac5, 0x23fc6358, 0xc563cf8b, 0x8f84b8d0];
const K0 = 0x03020100;
const K1 = 0x07060504;

t.test('the round function is HalfSipHash (reference vectors, 2-4)', async (t) => {
  const input = Uint8Array.from({ length: 64 }, (_, i) => i);
  VECTORS.forEach((expected, length) => {
    t.equal(halfSipHashBytes(input, 0, length, K0, K1, 2, 4), expected, `${length} bytes, from a byte array`);
    const text = String.fromCharCode(...input.subarray(0, length));
    t.equal(halfSipHashString(text, K0, K1, 2, 4), expected, `${length} bytes, from a string`);
  });
});

t.test('bytes and strings hash alike for every id length, at any offset', async (t) => {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_:-';
  const buffer = Buffer.alloc(256);
  let wrong = 0;
  const seen = new Set<number>();
  const ids = new Set<string>();
  for (let length = 1; length <= 64; length++) {
    for (let trial = 0; trial < 20; trial++) {
      let id = '';
      for (let i = 0; i < length; i++) id += chars[(i * i * 7 + trial * 11 + length) % chars.length];
      const offset = (trial * 5) % 100;
      buffer.write(id, offset, 'latin1');
      const fromBytes = hashIdBytes(buffer, offset, length);
      if (fromBytes !== hashIdString(id)) wrong++;
      if (!(fromBytes >= 0 && fromBytes <= 0xffffffff && Number.isInteger(fromBytes))) wrong++;
      seen.add(fromBytes);
      ids.add(id);
    }
  }
  t.equal(wrong, 0, 'the same uint32 from both forms');
  t.ok(seen.size >= ids.size - 1, `distinct ids hash apart (${seen.size} distinct hashes of ${ids.size} ids)`);
});
