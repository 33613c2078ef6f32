// Doorbells (native/doorbell.h, src/ring/doorbell.ts): a ring from any thread runs the
// watcher's callback on the watcher's thread, rings coalesce, a closed watch is silent; and a
// ring whose reader sleeps on a doorbell delivers every record of bursts with idle gaps.
import t from 'tap';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { bellOf, closeDoorbell, createDoorbell, watcherOf } from '../src/ring/doorbell.js';
import { RingReader, RingWriter, createRingBuffer } from '../src/ring/ring.js';
import { READER_SLEEPING_WORD } from '../src/ring/ring-layout.js';
import { pattern, tick } from './fixtures/ring-helpers.js';

const addonPath = process.env.MEGACOMET_ADDON ?? createRequire(import.meta.url).resolve('../build/Release/megacomet.node');

/** Lets the loop turn until `done()`; a condition, not a count of turns, so a busy machine only makes it slower. */
async function until(what: string, done: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

t.test('a ring runs the callback once, on the next loop turn; rings before it coalesce', async (t) => {
  const fd = createDoorbell();
  t.teardown(() => closeDoorbell(fd));
  let calls = 0;
  const watch = watcherOf(fd)(() => calls++);
  t.teardown(() => watch.close());
  const bell = bellOf(fd);
  bell.ring();
  bell.ring();
  bell.ring();
  t.equal(calls, 0, 'never inside ring()');
  await until('the callback', () => calls > 0);
  await tick();
  t.equal(calls, 1, 'three rings, one callback');
  bell.ring();
  await until('the second callback', () => calls === 2);
  watch.close();
  bell.ring();
  for (let i = 0; i < 20; i++) await tick();
  t.equal(calls, 2, 'a closed watch is never called again');
  watch.close();
  t.pass('close() twice is harmless');
});

t.test('a ring from another thread wakes the watching thread', async (t) => {
  const fd = createDoorbell();
  t.teardown(() => closeDoorbell(fd));
  let calls = 0;
  const watch = watcherOf(fd)(() => calls++);
  t.teardown(() => watch.close());
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const addon = require(workerData.addonPath);
     parentPort.on('message', (m) => { if (m === 'ring') addon.ringDoorbell(workerData.fd); else parentPort.close(); });`,
    { eval: true, workerData: { fd, addonPath } },
  );
  const exited = once(worker, 'exit');
  for (let round = 1; round <= 50; round++) {
    worker.postMessage('ring');
    await until(`ring ${round}`, () => calls >= round);
  }
  t.equal(calls, 50, 'each ring, sent after the previous callback, made one callback');
  worker.postMessage('stop');
  await exited;
});

t.test('new DoorbellWatcher refuses what is not an fd and a callback', async (t) => {
  const { DoorbellWatcher } = createRequire(import.meta.url)(addonPath) as { DoorbellWatcher: new (...args: unknown[]) => unknown };
  t.throws(() => new DoorbellWatcher('3', () => {}), /fd must be a number/);
  t.throws(() => new DoorbellWatcher(-1, () => {}), /file descriptor/);
  t.throws(() => new DoorbellWatcher(3.5, () => {}), /file descriptor/);
  t.throws(() => new DoorbellWatcher(5), /onRing a function/);
});

t.test('a reader sleeping on a doorbell gets every record of bursts with idle gaps', async (t) => {
  const fd = createDoorbell();
  t.teardown(() => closeDoorbell(fd));
  const sab = createRingBuffer(4096);
  const ctl = new Int32Array(sab);
  const writer = new RingWriter(sab, bellOf(fd));
  const reader = new RingReader(sab, watcherOf(fd));
  const got: Buffer[] = [];
  reader.start((offset, length) => got.push(Buffer.from(reader.bytes.subarray(offset, offset + length))));
  t.teardown(() => reader.close());
  const sent: Buffer[] = [];
  for (let burst = 0; burst < 30; burst++) {
    await until('the reader to sleep', () => Atomics.load(ctl, READER_SLEEPING_WORD) === 1);
    // Up to 300 records: more than the ring holds, so the overflow list and its flush take part.
    for (let i = 0; i < 1 + ((burst * 37) % 300); i++) {
      const record = pattern(1 + ((burst + i) % 61), burst * 1000 + i);
      sent.push(record);
      writer.write(record, record.length);
    }
    await until(`burst ${burst}`, () => got.length === sent.length);
  }
  t.same(got, sent, 'every record, in order, nothing else');
  reader.stop();
  writer.write(pattern(3, 1), 3);
  for (let i = 0; i < 20; i++) await tick();
  t.equal(got.length, sent.length, 'a stopped reader takes nothing');
  writer.close();
});
