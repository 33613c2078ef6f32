// A full ring never blocks and never drops: records wait on the writer's overflow list, in order,
// and go into the ring as soon as the reader frees space, woken by the reader's notify.
import t from 'tap';
import { RingReader, RingWriter, createRingBuffer } from '../src/ring/ring.js';
import { WRITER_WAITING_WORD } from '../src/ring/ring-layout.js';
import { drainCopies, pattern, tick, usedBytes } from './fixtures/ring-helpers.js';

/** A 4096-byte ring holding four 1016-byte records (1024 bytes each with the header): exactly full. */
function fullRing(): { sab: SharedArrayBuffer; writer: RingWriter; reader: RingReader } {
  const sab = createRingBuffer(4096);
  const writer = new RingWriter(sab);
  for (let i = 0; i < 4; i++) writer.write(pattern(1016, 100 + i), 1016);
  if (usedBytes(sab) !== 4096) throw new Error('fullRing() did not fill the ring');
  return { sab, writer, reader: new RingReader(sab) };
}

t.test('records that find the ring full', async (t) => {
  t.test('wait on the overflow list in order and flush once the reader frees space, with no further write', async (t) => {
    const { sab, writer, reader } = fullRing();
    const late = [pattern(10, 1), pattern(20, 2), pattern(30, 3)];
    for (const record of late) writer.write(record, record.length);
    t.equal(writer.backlog, 3);
    t.equal(writer.backlogBytes, 60);
    t.equal(Atomics.load(new Int32Array(sab), WRITER_WAITING_WORD), 1, 'the writer announced it waits for space');
    t.equal(drainCopies(reader).length, 4, 'the reader gets the records that were in the ring');
    t.equal(Atomics.load(new Int32Array(sab), WRITER_WAITING_WORD), 0, 'the reader took the announcement when it notified');
    await writer.flushed();
    t.equal(writer.backlog, 0);
    t.equal(writer.backlogBytes, 0);
    t.same(
      drainCopies(reader).map((r) => r.bytes),
      late,
    );
  });
  t.test('are never overtaken by a newer record', async (t) => {
    const { writer, reader } = fullRing();
    writer.write(pattern(8, 1), 8);
    drainCopies(reader);
    // The writer has not yet run its wake-up: this write must flush the older record first.
    writer.write(pattern(8, 2), 8);
    t.equal(writer.backlog, 0);
    t.same(
      drainCopies(reader).map((r) => r.bytes),
      [pattern(8, 1), pattern(8, 2)],
    );
  });
  t.test('flush completely and in order even when thousands wait', async (t) => {
    const { writer, reader } = fullRing();
    const total = 5000;
    for (let i = 0; i < total; i++) writer.write(pattern(i % 90, i), i % 90);
    t.equal(writer.backlog, total);
    const received: Buffer[] = [];
    for (let turns = 0; received.length < total + 4 && turns < 10_000; turns++) {
      for (const r of drainCopies(reader)) received.push(r.bytes);
      await tick();
    }
    const late = received.slice(4);
    t.equal(late.length, total);
    t.equal(
      late.findIndex((bytes, i) => !bytes.equals(pattern(i % 90, i))),
      -1,
      'every record has its own bytes, in order',
    );
    t.equal(writer.backlog, 0);
  });
});

t.test('close()', async (t) => {
  t.test('rejects a pending flushed() and refuses later writes', async (t) => {
    const { writer } = fullRing();
    writer.write(pattern(8, 1), 8);
    const flushed = writer.flushed();
    writer.close();
    await t.rejects(flushed, { message: /closed with 1 records/ });
    await t.rejects(writer.flushed(), { message: /closed with 1 records/ });
    t.throws(() => writer.write(pattern(8, 2), 8), { message: /after close/ });
  });
  t.test('stops the wait: space freed later is not filled', async (t) => {
    const { sab, writer, reader } = fullRing();
    writer.write(pattern(8, 1), 8);
    writer.close();
    drainCopies(reader);
    await tick();
    await tick();
    t.equal(writer.backlog, 1);
    t.equal(usedBytes(sab), 0);
  });
  t.test('flushed() resolves at once when nothing waits', async (t) => {
    const { writer } = fullRing();
    await t.resolves(writer.flushed(), 'while open');
    writer.close();
    await t.resolves(writer.flushed(), 'after close()');
  });
});
