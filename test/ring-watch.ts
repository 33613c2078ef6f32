// RingReader.start(): records are delivered from the event loop as they arrive, the reader sleeps
// when the ring is empty and the writer wakes it; stop() ends delivery. And drain()'s error rules.
import t from 'tap';
import { RingReader, RingWriter, createRingBuffer, sleepUntilChanged } from '../src/ring/ring.js';
import { READER_SLEEPING_WORD } from '../src/ring/ring-layout.js';
import { pattern, tick } from './fixtures/ring-helpers.js';

function ring(): { sab: SharedArrayBuffer; writer: RingWriter; reader: RingReader } {
  const sab = createRingBuffer(4096);
  return { sab, writer: new RingWriter(sab), reader: new RingReader(sab) };
}

/** Starts the reader collecting copies; `next(n)` resolves once n records have arrived in total. */
function collect(reader: RingReader): { records: Buffer[]; next(n: number): Promise<void> } {
  const records: Buffer[] = [];
  let waiting: { n: number; resolve: () => void } | undefined;
  reader.start((offset, length) => {
    records.push(Buffer.from(reader.bytes.subarray(offset, offset + length)));
    if (waiting !== undefined && records.length >= waiting.n) waiting.resolve();
  });
  return {
    records,
    next: (n) => (records.length >= n ? Promise.resolve() : new Promise((resolve) => (waiting = { n, resolve }))),
  };
}

t.test('a watching reader', async (t) => {
  t.test('sleeps when the ring is empty and is woken by the next record', async (t) => {
    const { sab, writer, reader } = ring();
    const ctl = new Int32Array(sab);
    const got = collect(reader);
    await tick();
    await tick();
    t.equal(Atomics.load(ctl, READER_SLEEPING_WORD), 1, 'the reader announced its sleep');
    writer.write(pattern(5, 1), 5);
    t.equal(Atomics.load(ctl, READER_SLEEPING_WORD), 0, 'the writer took the announcement when it notified');
    await got.next(1);
    t.same(got.records, [pattern(5, 1)]);
    writer.write(pattern(6, 2), 6);
    writer.write(pattern(7, 3), 7);
    await got.next(3);
    t.same(got.records.slice(1), [pattern(6, 2), pattern(7, 3)]);
    reader.stop();
    t.equal(Atomics.load(ctl, READER_SLEEPING_WORD), 0, 'stop() withdrew the announcement');
  });
  t.test('delivers records written before start(), but never inside start()', async (t) => {
    const { writer, reader } = ring();
    writer.write(pattern(5, 1), 5);
    writer.write(pattern(5, 2), 5);
    const got = collect(reader);
    t.equal(got.records.length, 0);
    await got.next(2);
    t.same(got.records, [pattern(5, 1), pattern(5, 2)]);
    reader.stop();
  });
  t.test('stops delivering on stop() and resumes where it stopped on start()', async (t) => {
    const { writer, reader } = ring();
    const got = collect(reader);
    writer.write(pattern(5, 1), 5);
    await got.next(1);
    reader.stop();
    writer.write(pattern(5, 2), 5);
    for (let i = 0; i < 5; i++) await tick();
    t.equal(got.records.length, 1, 'nothing arrives while stopped');
    const again = collect(reader);
    await again.next(1);
    t.same(again.records, [pattern(5, 2)]);
    reader.stop();
  });
  t.test('refuses a second start()', async (t) => {
    const { reader } = ring();
    reader.start(() => {});
    t.throws(() => reader.start(() => {}), { message: /already watching/ });
    reader.stop();
  });
});

t.test('drain() and a failing onRecord', async (t) => {
  t.test('the record that threw counts as read, later ones stay for the next drain', async (t) => {
    const { writer, reader } = ring();
    for (let i = 1; i <= 3; i++) writer.write(pattern(4, i), 4);
    const seen: number[] = [];
    t.throws(
      () =>
        reader.drain((offset) => {
          seen.push(reader.bytes[offset]!);
          if (seen.length === 2) throw new Error('handler failed');
        }),
      { message: 'handler failed' },
    );
    t.same(seen, [pattern(4, 1)[0], pattern(4, 2)[0]]);
    const rest: number[] = [];
    t.equal(
      reader.drain((offset) => rest.push(reader.bytes[offset]!)),
      1,
    );
    t.same(rest, [pattern(4, 3)[0]]);
  });
  t.test('calling drain() from inside onRecord throws', async (t) => {
    const { writer, reader } = ring();
    writer.write(pattern(4, 1), 4);
    t.throws(() => reader.drain(() => reader.drain(() => {})), { message: /inside onRecord/ });
  });
});

t.test('the sleep handshake', async (t) => {
  // Replays, in one thread, the interleaving that once lost a wake-up across threads: the waker
  // stores, sees the flag and notifies before the sleeper is queued, and the sleeper's look
  // already includes that store, so it is queued anyway and that notify woke nobody.
  const ctl = new Int32Array(new SharedArrayBuffer(16));
  const WORD = 0;
  const FLAG = 1;
  const wake = (): number => {
    Atomics.add(ctl, WORD, 1);
    return Atomics.exchange(ctl, FLAG, 0) === 1 ? Atomics.notify(ctl, WORD) : -1;
  };
  Atomics.store(ctl, FLAG, 1); // sleeper announces
  t.equal(wake(), 0, 'the waker sees the flag and notifies while nobody is queued');
  const seen = Atomics.load(ctl, WORD); // sleeper looks: it already sees that store
  const wait = sleepUntilChanged(ctl, WORD, FLAG, seen);
  t.ok(wait !== undefined, 'nothing new since the look, so the sleeper is queued');
  t.equal(Atomics.load(ctl, FLAG), 1, 'and, finding its flag taken, announces itself again');
  const woken = wake();
  t.equal(woken, 1, 'so the next store wakes it');
  if (woken === 1) t.equal(await wait, 'ok');

  t.test('returns undefined and withdraws the flag when the word already moved', async (t) => {
    Atomics.store(ctl, FLAG, 1);
    t.equal(sleepUntilChanged(ctl, WORD, FLAG, Atomics.load(ctl, WORD) - 1), undefined);
    t.equal(Atomics.load(ctl, FLAG), 0);
  });
});
