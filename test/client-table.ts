// The manager's client table (src/manager/client-table.ts): lookups from bytes
// and strings, deletion by backward shift, growth, arena reuse, collisions
// forced through the hash the caller passes, and memory bounded under churn.
import t from 'tap';
import { ClientTable } from '../src/manager/client-table.js';
import { hashIdBytes, hashIdString } from '../src/protocol/client-id-hash.js';

const ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_:-';

/**
 * A distinct id for each n: the count of its base-65 digits, the digits, then
 * filler up to `length` characters (more when `length` is too short to be distinct).
 */
function idOf(n: number, length: number): string {
  let digits = '';
  let x = n;
  do {
    digits += ID_CHARS[x % ID_CHARS.length];
    x = Math.floor(x / ID_CHARS.length);
  } while (x > 0);
  let id = ID_CHARS[digits.length]! + digits;
  for (let i = id.length; i < length; i++) id += ID_CHARS[(n * 31 + i * 7) % ID_CHARS.length];
  return id;
}

function addId(table: ClientTable, id: string, hash = hashIdString(id)): number {
  return table.addString(hash, id);
}
function findId(table: ClientTable, id: string, hash = hashIdString(id)): number {
  return table.findString(hash, id);
}

t.test('ids of every length 1..64: added from a string or from bytes, found from either', async (t) => {
  const table = new ClientTable();
  const scratch = Buffer.alloc(200);
  const entries = new Map<string, number>();
  let wrong = 0;
  for (let length = 1; length <= 64; length++) {
    for (let n = 0; n < 3; n++) {
      // Exactly `length` characters; the first tells the three of a length apart.
      const id = ID_CHARS[n]! + Array.from({ length: length - 1 }, (_, i) => ID_CHARS[(i * 7 + length) % ID_CHARS.length]).join('');
      let entry: number;
      if (n % 2 === 0) {
        entry = addId(table, id);
      } else {
        const at = 7 + n;
        scratch.write(id, at, 'latin1');
        entry = table.addBytes(hashIdBytes(scratch, at, length), scratch, at, length);
      }
      entries.set(id, entry);
    }
  }
  for (const [id, entry] of entries) {
    const at = 100 - (id.length % 5);
    scratch.fill(0x21);
    scratch.write(id, at, 'latin1');
    if (findId(table, id) !== entry) wrong++;
    if (table.findBytes(hashIdBytes(scratch, at, id.length), scratch, at, id.length) !== entry) wrong++;
    if (table.idOf(entry) !== id) wrong++;
  }
  t.equal(wrong, 0, 'every id is found by its string and its bytes, and reads back');
  t.equal(table.size, entries.size);
  t.equal(new Set(entries.values()).size, entries.size, 'each id has its own entry');

  t.equal(findId(table, 'absent'), -1, 'an absent id');
  const some = [...entries.keys()].find((id) => id.length === 64)!;
  t.ok(findId(table, some) >= 0);
  t.equal(findId(table, some.slice(0, 63)), -1, 'a prefix of an id is another id');
  t.equal(findId(table, some.slice(0, 63) + '!'), -1, 'an id differing in its last byte is another id');
  t.throws(() => table.addString(0, ''), RangeError, 'an empty id is refused');
  t.throws(() => table.addString(0, 'x'.repeat(65)), RangeError, 'a 65-byte id is refused');
});

t.test('delete frees the id; the entry and its bytes are reused', async (t) => {
  const table = new ClientTable();
  const a = addId(table, 'alice');
  const b = addId(table, 'bob');
  table.delete(a);
  t.equal(findId(table, 'alice'), -1, 'a deleted id is gone');
  t.equal(findId(table, 'bob'), b, 'the others stay');
  t.notOk(table.has(a), 'its entry is free');
  t.equal(table.size, 1);
  const c = addId(table, 'carol');
  t.equal(c, a, 'the last freed entry is reused first');
  t.equal(table.idOf(c), 'carol', 'with its own bytes');
  t.throws(() => table.delete(a + 1000), RangeError, 'deleting an entry never handed out throws');
  table.delete(c);
  t.throws(() => table.delete(c), RangeError, 'deleting twice throws');
});

t.test('many ids with one hash: all found, deletes shift the run back (no tombstones)', async (t) => {
  for (const hash of [0, 0x7fffffff, 0xffffffff]) {
    const table = new ClientTable();
    const n = 3000; // past the first growth, so the colliding run is re-filed too
    const ids = Array.from({ length: n }, (_, i) => idOf(i, 8 + (i % 9)));
    const entries = ids.map((id) => addId(table, id, hash));
    let wrong = 0;
    ids.forEach((id, i) => {
      if (findId(table, id, hash) !== entries[i]) wrong++;
    });
    t.equal(wrong, 0, `hash ${hash}: every colliding id is found (the run wraps around the end when the home is the last bucket)`);
    t.equal(table.runLength(hash), n, 'one run of all of them');

    for (let i = 0; i < n; i += 2) table.delete(entries[i]!);
    wrong = 0;
    ids.forEach((id, i) => {
      if (findId(table, id, hash) !== (i % 2 === 0 ? -1 : entries[i])) wrong++;
    });
    t.equal(wrong, 0, 'after deleting every other one, the rest are found and the deleted are not');
    t.equal(table.runLength(hash), n / 2, 'the run shrank by the deleted ones');
    for (let i = 1; i < n; i += 2) table.delete(entries[i]!);
    t.equal(table.runLength(hash), 0, 'deleting the rest leaves no trace: the home bucket is empty');
    t.equal(table.size, 0);
  }
});

t.test('many ids with different hashes but one home bucket, mixed with a second home right after', async (t) => {
  const table = new ClientTable();
  const n = 2000;
  // Hashes that differ only in their low bits share a home (homes come from the top bits); a
  // second group homes one bucket later, so both groups' runs interleave in Robin Hood order.
  const base = 0x40000000;
  const step = Math.ceil(4294967296 / table.bucketCount);
  const hashOf = (i: number): number => (i % 2 === 0 ? base + (i >> 1) : base + step + (i >> 1)) >>> 0;
  const ids = Array.from({ length: n }, (_, i) => idOf(i, 12));
  const entries = ids.map((id, i) => addId(table, id, hashOf(i)));
  let wrong = 0;
  ids.forEach((id, i) => {
    if (findId(table, id, hashOf(i)) !== entries[i]) wrong++;
    if (findId(table, id, hashOf(i) ^ 1) !== -1) wrong++;
  });
  t.equal(wrong, 0, 'each found under its own hash only');
  for (let i = 0; i < n; i += 3) table.delete(entries[i]!);
  wrong = 0;
  ids.forEach((id, i) => {
    if (findId(table, id, hashOf(i)) !== (i % 3 === 0 ? -1 : entries[i])) wrong++;
  });
  t.equal(wrong, 0, 'after deleting a third of them, across both groups');
});

t.test('against a Map: random adds and deletes with hashes forced into a few buckets', async (t) => {
  const table = new ClientTable();
  const model = new Map<string, number>();
  // 5 bits of the real hash, spread over the top so they pick homes across the table:
  // long runs of mixed homes, the case backward shift must get right.
  const hashOf = (id: string): number => (hashIdString(id) & 0xf8000000) >>> 0;
  let seed = 12345;
  const random = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 4294967296;
  };
  let wrong = 0;
  for (let step = 0; step < 60_000; step++) {
    const id = idOf(Math.floor(random() * 4000), 1 + Math.floor(random() * 64));
    const entry = model.get(id);
    if (entry === undefined) {
      if (findId(table, id, hashOf(id)) !== -1) wrong++;
      model.set(id, addId(table, id, hashOf(id)));
    } else {
      if (findId(table, id, hashOf(id)) !== entry) wrong++;
      if (random() < 0.6) {
        table.delete(entry);
        model.delete(id);
      }
    }
  }
  for (const [id, entry] of model) if (findId(table, id, hashOf(id)) !== entry || table.idOf(entry) !== id) wrong++;
  t.equal(wrong, 0, 'the table answers as the Map does');
  t.equal(table.size, model.size);
});

t.test('growth: the index grows by 1.5x past a load of 0.8, entries keep their numbers', async (t) => {
  const table = new ClientTable();
  const first = table.bucketCount;
  const n = 100_000;
  const entries: number[] = [];
  for (let i = 0; i < n; i++) entries.push(addId(table, `user:${i}`));
  t.ok(table.bucketCount > first, `grew from ${first} to ${table.bucketCount} buckets`);
  t.ok(n / table.bucketCount <= 0.8 && n / table.bucketCount > 0.8 / 1.5 - 0.01, `load ${(n / table.bucketCount).toFixed(2)} is within 0.53..0.8`);
  let wrong = 0;
  for (let i = 0; i < n; i++) if (findId(table, `user:${i}`) !== entries[i]) wrong++;
  t.equal(wrong, 0, 'every id keeps its entry across the growths');

  const presized = new ClientTable(n);
  const buckets = presized.bucketCount;
  for (let i = 0; i < n; i++) addId(presized, `user:${i}`);
  t.equal(presized.bucketCount, buckets, 'a table made for n clients takes n without growing');
});

t.test('arena and entries are reused: deleting and re-adding the same shape takes no new memory', async (t) => {
  const table = new ClientTable();
  const n = 20_000;
  const fill = (round: number): number[] => Array.from({ length: n }, (_, i) => addId(table, idOf(round * n + i, 1 + (i % 64))));
  const entries = fill(0);
  const after = table.memory();
  for (const entry of entries) table.delete(entry);
  t.same(table.memory(), after, 'deleting frees nothing to the system (kept for reuse)');
  fill(1);
  t.same(table.memory(), after, 'the same number of ids of the same lengths fit in the freed chunks and entries');
  const perId = after.arena / n;
  t.ok(perId < 40, `arena: ${perId.toFixed(1)} bytes per id of 1..64 bytes (rounded up to 8)`);
});

t.test('churn: 1M deletes and 1M adds at a steady 10,000 clients keep memory at its first peak', async (t) => {
  const table = new ClientTable();
  const live = 10_000;
  const ring: number[] = [];
  let n = 0;
  const length = (k: number): number => 1 + ((k * 2654435761) >>> 0) % 64;
  for (; n < live; n++) ring.push(addId(table, idOf(n, length(n))));
  const peak = table.memory();
  const churn = 1_000_000;
  for (let k = 0; k < churn; k++, n++) {
    table.delete(ring[k % live]!);
    ring[k % live] = addId(table, idOf(n, length(n)));
  }
  const after = table.memory();
  t.equal(table.size, live);
  t.equal(after.buckets, peak.buckets, `buckets unchanged (${after.buckets} bytes)`);
  t.equal(after.entries, peak.entries, `entries unchanged (${after.entries} bytes)`);
  // Each size class reuses its own chunks: the arena follows the largest count each class
  // reached, a little above its share of the first fill, never the number of adds.
  t.ok(after.arena <= peak.arena * 1.25 + 8 * 65536, `arena ${after.arena} bytes after churn, ${peak.arena} at the first fill`);
  let wrong = 0;
  for (let k = 0; k < live; k++) if (!table.has(ring[k]!)) wrong++;
  t.equal(wrong, 0, 'the live clients are there');
});
