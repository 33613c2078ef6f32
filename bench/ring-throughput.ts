// Records per second through one ring (src/ring/ring.ts) from a producer thread to a consumer
// thread, per record size. The producer is a worker_threads Worker running this same file; the
// consumer is the main thread, reading with RingReader.start() like the manager does.
//
//   npm run build:ts && node dist/bench/ring-throughput.js [--ring-kib 256] [--seconds 2] [--runs 3]
//
// Each trial runs --runs times (a fresh ring and producer each time) and reports the median and
// the range: on a small shared machine single runs vary by 2x or more.
//
// It imports the compiled ring from dist/ring/ring.js: bench/tsconfig.json compiles bench/ alone
// (rootDir bench), so src/ cannot be imported here. The types below mirror the part of
// src/ring/ring.ts this file uses.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

interface RingWriterLike {
  readonly backlog: number;
  write(bytes: Uint8Array, length: number): void;
  flushed(): Promise<void>;
  close(): void;
}
interface RingReaderLike {
  readonly bytes: Buffer;
  start(onRecord: (offset: number, length: number) => void): void;
  stop(): void;
}
interface RingModule {
  createRingBuffer(capacityBytes: number): SharedArrayBuffer;
  RingWriter: new (sab: SharedArrayBuffer) => RingWriterLike;
  RingReader: new (sab: SharedArrayBuffer) => RingReaderLike;
}

interface Trial {
  description: string;
  recordBytes: number;
  /** A rough rate, only to size the trial to about --seconds. */
  expectedPerSecond: number;
}

const trials: Trial[] = [
  { description: '64-byte records (a POLL record is 24 + client id bytes)', recordBytes: 64, expectedPerSecond: 1_500_000 },
  { description: '1 KiB records (a DELIVER with a small JSON batch)', recordBytes: 1024, expectedPerSecond: 500_000 },
];

interface ProducerData {
  ring: SharedArrayBuffer;
  recordBytes: number;
  records: number;
}

interface ProducerReport {
  overflowed: number;
  maxBacklog: number;
}

/** Compiled into dist/bench/ the ring is at ../ring/; run from bench/ through a TS loader it is at ../dist/ring/. */
async function loadRing(): Promise<RingModule> {
  const here = new URL('.', import.meta.url);
  const relative = here.pathname.endsWith('/dist/bench/') ? '../ring/ring.js' : '../dist/ring/ring.js';
  return (await import(new URL(relative, here).href)) as RingModule;
}

/**
 * Writes records as fast as the ring takes them. Records are encoded into a larger scratch buffer,
 * as src/ring/records.ts does, so this measures the copy path real writers take. Once 64 records
 * wait in the overflow list the producer sleeps until writer.flushed(), as a real producer
 * applying backpressure would, instead of spinning.
 */
async function produce(ring: RingModule, data: ProducerData): Promise<ProducerReport> {
  const writer = new ring.RingWriter(data.ring);
  const scratch = Buffer.alloc(4096, 0x5a);
  const report: ProducerReport = { overflowed: 0, maxBacklog: 0 };
  let sent = 0;
  while (sent < data.records) {
    while (sent < data.records && writer.backlog < 64) {
      scratch.writeUInt32LE(sent, 0);
      const before = writer.backlog;
      writer.write(scratch, data.recordBytes);
      if (writer.backlog > before) report.overflowed++;
      sent++;
    }
    if (writer.backlog > report.maxBacklog) report.maxBacklog = writer.backlog;
    await writer.flushed();
  }
  writer.close();
  return report;
}

interface TrialResult {
  description: string;
  recordBytes: number;
  records: number;
  seconds: number;
  recordsPerSecond: number;
  megabytesPerSecond: number;
  overflowed: number;
}

async function runTrial(ring: RingModule, trial: Trial, ringBytes: number, seconds: number): Promise<TrialResult> {
  const records = Math.max(10_000, Math.round(seconds * trial.expectedPerSecond));
  const sab = ring.createRingBuffer(ringBytes);
  const reader = new ring.RingReader(sab);
  const data: ProducerData = { ring: sab, recordBytes: trial.recordBytes, records };
  let received = 0;
  let started = 0;
  let badSequence = -1;
  const done = new Promise<number>((resolve) => {
    reader.start((offset, length) => {
      if (received === 0) started = performance.now();
      if (length !== trial.recordBytes || reader.bytes.readUInt32LE(offset) !== received) badSequence = received;
      if (++received === records) resolve(performance.now());
    });
  });
  const worker = new Worker(new URL(import.meta.url), { workerData: data });
  const report = new Promise<ProducerReport>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const finished = await done;
  reader.stop();
  const producer = await report;
  if (badSequence >= 0) throw new Error(`record ${badSequence} arrived out of order or resized: the ring is broken`);
  const elapsed = (finished - started) / 1000;
  return {
    description: trial.description,
    recordBytes: trial.recordBytes,
    records,
    seconds: elapsed,
    recordsPerSecond: Math.round(records / elapsed),
    megabytesPerSecond: Math.round((records * trial.recordBytes) / elapsed / 1e6),
    overflowed: producer.overflowed,
  };
}

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!(value > 0)) throw new Error(`${name} needs a positive number, got ${String(process.argv[i + 1])}`);
  return value;
}

async function main(): Promise<void> {
  const ring = await loadRing();
  const ringKib = option('--ring-kib', 256);
  const seconds = option('--seconds', 2);
  const runs = option('--runs', 3);
  console.log(`ring ${ringKib} KiB, producer worker -> consumer main thread, ${runs} runs each, node ${process.version}`);
  for (const trial of trials) {
    const results: TrialResult[] = [];
    for (let run = 0; run < runs; run++) results.push(await runTrial(ring, trial, ringKib * 1024, seconds));
    results.sort((a, b) => a.recordsPerSecond - b.recordsPerSecond);
    const median = results[results.length >> 1]!;
    const rate = (r: TrialResult): string => r.recordsPerSecond.toLocaleString('en-US');
    console.log(
      `${trial.description}: median ${rate(median)} records/s, ${median.megabytesPerSecond} MB/s ` +
        `(range ${rate(results[0]!)} .. ${rate(results[results.length - 1]!)}; ` +
        `${median.records.toLocaleString('en-US')} records per run, ${median.overflowed} writes overflowed in the median run)`,
    );
  }
}

if (isMainThread) {
  await main();
} else {
  const ring = await loadRing();
  parentPort!.postMessage(await produce(ring, workerData as ProducerData));
}
