// One ring in one thread: capacity checks, records in and out, padding at the end, full and empty.
import t from 'tap';
import { RingReader, RingWriter, createRingBuffer } from '../src/ring/ring.js';
import { DATA_OFFSET, HEAD_WORD, RECORD_HEADER_BYTES, TAIL_WORD, maxRecordLength, recordSpan } from '../src/ring/ring-layout.js';
import { drainCopies, pattern, usedBytes } from './fixtures/ring-helpers.js';

function ring(capacity = 4096): { sab: SharedArrayBuffer; writer: RingWriter; reader: RingReader } {
  const sab = createRingBuffer(capacity);
  return { sab, writer: new RingWriter(sab), reader: new RingReader(sab) };
}

t.test('createRingBuffer', async (t) => {
  t.test('makes a header followed by a data area of the capacity', async (t) => {
    const { sab, reader, writer } = ring(8192);
    t.equal(sab.byteLength, DATA_OFFSET + 8192);
    t.equal(reader.bytes.length, 8192);
    t.equal(writer.maxLength, 8192 / 2 - RECORD_HEADER_BYTES);
  });
  t.test('refuses a capacity that is not a power of two from 4096 to 1 GiB, naming the value', async (t) => {
    for (const bad of [0, -4096, 1000, 4095, 6144, 4096.5, Number.NaN, 2 ** 31, Number.POSITIVE_INFINITY]) {
      t.throws(() => createRingBuffer(bad), { name: 'RangeError', message: `ring capacity ${String(bad)} is not` }, String(bad));
    }
  });
  t.test('a reader or writer refuses a buffer that is not a ring', async (t) => {
    const plain = new SharedArrayBuffer(DATA_OFFSET + 4096);
    t.throws(() => new RingReader(plain), { name: 'TypeError', message: /not made by createRingBuffer/ });
    t.throws(() => new RingWriter(plain), { name: 'TypeError', message: /not made by createRingBuffer/ });
    const unshared = new ArrayBuffer(DATA_OFFSET + 4096) as unknown as SharedArrayBuffer;
    t.throws(() => new RingReader(unshared), { name: 'TypeError', message: /not shared/ });
  });
});

t.test('drain', async (t) => {
  t.test('an empty ring drains nothing and returns 0', async (t) => {
    const { reader } = ring();
    let calls = 0;
    t.equal(reader.drain(() => calls++), 0);
    t.equal(calls, 0);
  });
  t.test('records come out once, in order, with their bytes', async (t) => {
    const { writer, reader } = ring();
    const records = [1, 2, 3, 4, 5, 100, 7].map((length, seed) => pattern(length, seed));
    for (const record of records) writer.write(record, record.length);
    const out = drainCopies(reader);
    t.same(
      out.map((r) => r.bytes),
      records,
    );
    t.equal(reader.drain(() => t.fail('a record came out twice')), 0);
  });
  t.test('writes only the first `length` bytes of the source', async (t) => {
    const { writer, reader } = ring();
    const source = pattern(64, 9);
    writer.write(source, 13);
    writer.write(source.subarray(1), 6); // a source that is not 4-aligned takes the byte-copy path
    writer.write(source, 64); // the whole source: one native copy
    t.same(
      drainCopies(reader).map((r) => r.bytes),
      [source.subarray(0, 13), source.subarray(1, 7), source],
    );
  });
  t.test('records of length 0 and of the maximum length pass through', async (t) => {
    const { writer, reader } = ring();
    const max = maxRecordLength(4096);
    t.equal(max, 2040);
    const big = pattern(max, 3);
    writer.write(Buffer.alloc(0), 0);
    writer.write(big, max);
    const out = drainCopies(reader);
    t.equal(out.length, 2);
    t.equal(out[0]!.bytes.length, 0);
    t.same(out[1]!.bytes, big);
    t.equal(writer.backlog, 0);
  });
  t.test('a length that could never fit, or is not a length of the source, is refused and nothing is written', async (t) => {
    const { writer, reader } = ring();
    t.throws(() => writer.write(Buffer.alloc(2041), 2041), { name: 'RangeError', message: /at most 2040 bytes/ });
    t.throws(() => writer.write(Buffer.alloc(10), 11), { name: 'RangeError', message: /source holds 10 bytes/ });
    t.throws(() => writer.write(Buffer.alloc(10), -1), { name: 'RangeError' });
    t.throws(() => writer.write(Buffer.alloc(10), 1.5), { name: 'RangeError' });
    t.throws(() => writer.write(Buffer.alloc(10), Number.NaN), { name: 'RangeError' });
    t.equal(reader.drain(() => t.fail('nothing should have been written')), 0);
    t.equal(writer.backlog, 0);
  });
});

t.test('wrap-around', async (t) => {
  t.test('a record that does not fit before the end is padded to the start', async (t) => {
    const { sab, writer, reader } = ring();
    for (let i = 0; i < 3; i++) writer.write(pattern(1016, i), 1016);
    t.same(
      drainCopies(reader).map((r) => r.offset),
      [8, 1032, 2056],
    );
    // 1024 bytes are left before the end; a record spanning 1512 pads them and starts at 0.
    const record = pattern(1500, 7);
    writer.write(record, 1500);
    t.equal(usedBytes(sab), 1024 + recordSpan(1500), 'the padding counts as used');
    const out = drainCopies(reader);
    t.equal(out.length, 1, 'the padding is not a record');
    t.equal(out[0]!.offset, RECORD_HEADER_BYTES);
    t.same(out[0]!.bytes, record);
    t.equal(usedBytes(sab), 0);
  });
  t.test('a record that ends exactly at the end needs no padding', async (t) => {
    const { sab, writer, reader } = ring();
    for (let i = 0; i < 3; i++) writer.write(pattern(1016, i), 1016);
    drainCopies(reader);
    writer.write(pattern(1016, 3), 1016);
    writer.write(pattern(8, 4), 8);
    t.equal(usedBytes(sab), 1024 + recordSpan(8));
    const out = drainCopies(reader);
    t.same(
      out.map((r) => r.offset),
      [3080, 8],
    );
    t.same(out[1]!.bytes, pattern(8, 4));
  });
  t.test('the shared counters wrap past 2^31 and 2^32 without losing a record', async (t) => {
    for (const start of [2 ** 31 - 4000, 2 ** 32 - 4000]) {
      const sab = createRingBuffer(4096);
      const ctl = new Int32Array(sab);
      Atomics.store(ctl, HEAD_WORD, start | 0);
      Atomics.store(ctl, TAIL_WORD, start | 0);
      const writer = new RingWriter(sab);
      const reader = new RingReader(sab);
      let seq = 0;
      let checked = 0;
      let bad = 0;
      while (seq < 2000) {
        for (let k = 0; k < 5; k++, seq++) writer.write(pattern(seq % 700, seq), seq % 700);
        for (const r of drainCopies(reader)) if (!r.bytes.equals(pattern(checked % 700, checked++))) bad++;
      }
      t.equal(checked, 2000, `all records read starting at ${start}`);
      t.equal(bad, 0, 'with their bytes');
      t.equal(writer.backlog, 0);
      const head = Atomics.load(ctl, HEAD_WORD);
      t.ok(start < 2 ** 32 - 4000 ? head < 0 : head > 0, `HEAD crossed the boundary (now ${head})`);
    }
  });
});

t.test('a ring filled to the last byte', async (t) => {
  const { sab, writer, reader } = ring();
  for (let i = 0; i < 4; i++) writer.write(pattern(1016, i), 1016);
  t.equal(usedBytes(sab), 4096, 'is exactly full');
  t.equal(writer.backlog, 0, 'took every record');
  writer.write(Buffer.alloc(0), 0);
  t.equal(writer.backlog, 1, 'has no room even for an empty record');
  t.same(
    drainCopies(reader).map((r) => r.bytes),
    [0, 1, 2, 3].map((i) => pattern(1016, i)),
  );
  await writer.flushed();
  const out = drainCopies(reader);
  t.equal(out.length, 1);
  t.equal(out[0]!.bytes.length, 0);
});

t.test('bytesUsed: both sides read the bytes in use from the shared words (for metrics)', async (t) => {
  const { sab, writer, reader } = ring();
  t.equal(writer.capacity, 4096);
  t.equal(reader.capacity, 4096);
  t.equal(writer.bytesUsed, 0, 'empty: writer');
  t.equal(reader.bytesUsed, 0, 'empty: reader');
  writer.write(pattern(100, 1), 100);
  writer.write(pattern(5, 2), 5);
  const expected = recordSpan(100) + recordSpan(5);
  t.equal(writer.bytesUsed, expected, 'the writer counts headers and padding');
  t.equal(reader.bytesUsed, expected, 'the reader sees the same');
  t.equal(usedBytes(sab), expected);
  for (let i = 0; i < 4; i++) writer.write(pattern(1016, i), 1016);
  t.ok(writer.backlog > 0, 'some records wait in the overflow list');
  t.ok(writer.bytesUsed <= 4096 && reader.bytesUsed === writer.bytesUsed, 'never above the capacity; the overflow list is not counted');
  t.ok(writer.backlogBytes >= 1016, 'the overflow list is backlogBytes');
  // Closed first, so the overflow list does not flow in behind the drain.
  writer.close();
  drainCopies(reader);
  t.equal(reader.bytesUsed, 0, 'drained: the reader sees it at once');
  t.equal(writer.bytesUsed, 0, 'and the writer from TAIL');
});
