// CPU the manager spends per POLL and GONE record, through the real ring ports: the worker's
// RingManagerPort encodes records into a ring, the manager's RingWorkerPort decodes them into
// the Manager. The same records are also decoded into a handler that does nothing, and the
// difference is the manager's own cost (routing state: lookups, inserts, deletes).
//
//   npm run build:ts && node --expose-gc dist/bench/manager-poll-cpu.js [--clients 100000] [--rounds 5] [--runs 3]
//
// Phases, each run on a fresh manager:
//   new     --clients POLL records for clients never seen (the table grows)
//   cycle   --rounds times per client: GONE of its held poll, then a POLL (a poll timeout and the
//           client's next poll: the steady state of an idle subscriber)
// It also counts the collector's runs (minor = scavenges) during each phase: a scavenge means
// something was allocated per record, and old space growing after the run means it survived.
//
// Everything runs in one thread (writer and reader of the ring alike), in chunks that fit in the
// ring. Not a test: figures from a shared machine vary; take the median of --runs.
//
// It imports the compiled modules from dist/ like ring-throughput.ts does (bench/tsconfig.json
// compiles bench/ alone), so the types below are the few this file needs, loose on purpose: the
// same file measured the manager before and after its client table changed shape.
import { PerformanceObserver } from 'node:perf_hooks';

interface ManagerPortLike {
  poll(handle: number, since: number, client: string): void;
  gone(handle: number, client: string): void;
}
interface Modules {
  createRingBuffer(bytes: number): SharedArrayBuffer;
  RingManagerPort: new (toManager: SharedArrayBuffer, fromManager: SharedArrayBuffer) => ManagerPortLike;
  RingWorkerPort: new (worker: number, toManager: SharedArrayBuffer, fromManager: SharedArrayBuffer) => { start(handler: object): void; close(): void };
  Manager: new (options: { ttlMs: number; maxQueue: number }, workers: unknown[]) => { stats(): { held_polls: number; clients: number } };
  makeHandle(slot: number, gen: number): number;
}

async function load(): Promise<Modules> {
  const here = new URL('.', import.meta.url);
  const root = here.pathname.endsWith('/dist/bench/') ? '../' : '../dist/';
  const get = async (path: string): Promise<Record<string, unknown>> => (await import(new URL(root + path, here).href)) as Record<string, unknown>;
  const ring = await get('ring/ring.js');
  const workerPort = await get('worker/manager-port.js');
  const managerPort = await get('manager/worker-port.js');
  const manager = await get('manager/manager.js');
  const events = await get('engine/events.js');
  return {
    createRingBuffer: ring.createRingBuffer as Modules['createRingBuffer'],
    RingManagerPort: workerPort.RingManagerPort as Modules['RingManagerPort'],
    RingWorkerPort: managerPort.RingWorkerPort as Modules['RingWorkerPort'],
    Manager: manager.Manager as Modules['Manager'],
    makeHandle: events.makeHandle as Modules['makeHandle'],
  };
}

/** What the ring's reader calls, counting records and forwarding them to `target` (the manager, or nothing). */
function counter(target: Record<string, (...args: unknown[]) => void> | null): { handler: object; count(): number } {
  let n = 0;
  const forward = (name: string) =>
    target !== null && typeof target[name] === 'function'
      ? (...args: unknown[]): void => {
          n++;
          target[name]!(...args);
        }
      : (): void => {
          n++;
        };
  // Both shapes of the record handler: onPoll/onGone with a client string, or onPollBytes/onGone.
  return { handler: { onPoll: forward('onPoll'), onPollBytes: forward('onPollBytes'), onGone: forward('onGone') }, count: () => n };
}

const RING_BYTES = 1 << 21;
/** Records written before waiting for the reader: well inside one ring (a POLL record takes 48 bytes). */
const CHUNK = 16_384;

interface PhaseResult {
  records: number;
  cpuUs: number;
  wallMs: number;
  minorGcs: number;
  majorGcs: number;
}

let gcs = { minor: 0, major: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind;
    if (kind === 1) gcs.minor++;
    else gcs.major++;
  }
}).observe({ entryTypes: ['gc'] });

async function run(m: Modules, clients: number, rounds: number, withManager: boolean): Promise<{ fresh: PhaseResult; cycle: PhaseResult; heapGrowth: number }> {
  const toManager = m.createRingBuffer(RING_BYTES);
  const fromManager = m.createRingBuffer(RING_BYTES);
  const workerSide = new m.RingManagerPort(toManager, fromManager);
  const managerSide = new m.RingWorkerPort(0, toManager, fromManager);
  const manager = withManager ? new m.Manager({ ttlMs: 60_000, maxQueue: 1000 }, [managerSide]) : null;
  const count = counter(manager as unknown as Record<string, (...args: unknown[]) => void> | null);
  managerSide.start(count.handler);
  const ids = Array.from({ length: clients }, (_, i) => `user:${String(i).padStart(11, '0')}`);
  const since = 1_700_000_000_000_000;
  const drained = async (target: number): Promise<void> => {
    while (count.count() < target) await new Promise((resolve) => setImmediate(resolve));
  };
  const heapBefore = usedHeap();
  const phase = async (records: number, write: (i: number) => void): Promise<PhaseResult> => {
    const start = count.count();
    // Let the observer report the collections made before this phase (usedHeap's), then count afresh.
    await new Promise((resolve) => setTimeout(resolve, 20));
    gcs = { minor: 0, major: 0 };
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < records; ) {
      const end = Math.min(records, i + CHUNK);
      for (; i < end; i++) write(i);
      await drained(start + i);
    }
    const used = process.cpuUsage(cpu);
    return { records, cpuUs: used.user + used.system, wallMs: performance.now() - t0, minorGcs: gcs.minor, majorGcs: gcs.major };
  };
  // Slot i of worker 0 holds client i; each new poll of a slot has the next generation.
  const fresh = await phase(clients, (i) => workerSide.poll(m.makeHandle(i, 1), since, ids[i]!));
  let gen = 1;
  const cycle = await phase(clients * rounds * 2, (k) => {
    const i = (k >> 1) % clients;
    if (i === 0 && (k & 1) === 0) gen++;
    if ((k & 1) === 0) workerSide.gone(m.makeHandle(i, gen - 1), ids[i]!);
    else workerSide.poll(m.makeHandle(i, gen), since, ids[i]!);
  });
  if (manager !== null && manager.stats().held_polls !== clients) throw new Error(`expected ${clients} held polls, the manager has ${manager.stats().held_polls}`);
  const heapGrowth = usedHeap() - heapBefore;
  managerSide.close();
  return { fresh, cycle, heapGrowth };
}

function usedHeap(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    gc();
    gc();
  }
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!(value > 0)) throw new Error(`${name} needs a positive number, got ${String(process.argv[i + 1])}`);
  return value;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

async function main(): Promise<void> {
  const m = await load();
  const clients = option('--clients', 100_000);
  const rounds = option('--rounds', 5);
  const runs = option('--runs', 3);
  console.log(`${clients} clients, ${rounds} GONE+POLL rounds each, ${runs} runs, node ${process.version}`);
  // A warm-up of both, so the compiler has optimised every path before anything is timed.
  await run(m, Math.min(clients, 20_000), 2, false);
  await run(m, Math.min(clients, 20_000), 2, true);
  const results: { bare: Awaited<ReturnType<typeof run>>; full: Awaited<ReturnType<typeof run>> }[] = [];
  for (let r = 0; r < runs; r++) {
    const bare = await run(m, clients, rounds, false);
    const full = await run(m, clients, rounds, true);
    results.push({ bare, full });
  }
  const perRecord = (p: PhaseResult): number => p.cpuUs / p.records;
  for (const name of ['fresh', 'cycle'] as const) {
    const full = median(results.map((x) => perRecord(x.full[name])));
    const bare = median(results.map((x) => perRecord(x.bare[name])));
    const last = results[results.length - 1]!.full[name];
    console.log(
      `${name === 'fresh' ? 'new client POLL      ' : 'GONE + POLL, per rec.'}: ${(full * 1000).toFixed(0)} ns CPU per record with the manager, ` +
        `${(bare * 1000).toFixed(0)} ns ring and decoding alone: manager ${((full - bare) * 1000).toFixed(0)} ns ` +
        `(last run: ${last.records} records, ${last.minorGcs} scavenges, ${last.majorGcs} full GCs)`,
    );
  }
  const growth = results[results.length - 1]!.full.heapGrowth;
  console.log(`heap + array buffers kept after the run, per client: ${(growth / clients).toFixed(1)} bytes (ports, manager, id strings of this bench)`);
}

await main();
