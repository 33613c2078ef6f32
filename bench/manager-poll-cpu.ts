// CPU the manager spends per POLL and GONE record, through the real ring ports: the worker's
// RingManagerPort encodes records into a ring, the manager's RingWorkerPort decodes them into
// the Manager. The same records are also decoded into a handler that does nothing, and the
// difference is the manager's own cost (routing state: lookups, inserts, deletes).
//
//   npm run build:ts && node --expose-gc dist/bench/manager-poll-cpu.js [--clients 100000] [--rounds 5] [--runs 3]
//
// Phases, each run on a fresh manager:
//   new     --clients POLL records for clients never seen (the table grows), repeated on new
//           managers to about 1M records
//   cycle   --rounds times per client: GONE of its held poll, then a POLL (a poll timeout and the
//           client's next poll: the steady state of an idle subscriber)
// It also counts the collector's runs (minor = scavenges) during each phase: scavenges mean
// something is allocated per record (test/poll-garbage.ts checks that none of it survives).
// Memory per client is measured by test/memory-per-poll.ts and test/manager-memory.ts.
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

type Target = Record<string, (...args: unknown[]) => void>;

/**
 * What the ring's reader calls: counts records and forwards them to `box.target` (a manager), or
 * to nothing when `forward` is false. One per kind for the whole process, the target swapped per
 * run: a handler made per run would hold each run's manager as a constant of its optimised code,
 * which V8 throws away (deoptimises) when that manager dies, so every run would time a cold start.
 */
function counter(forward: boolean): { handler: object; count(): number; box: { target: Target | null } } {
  let n = 0;
  const box: { target: Target | null } = { target: null };
  // Both shapes of the record handler: onPoll/onGone with a client string, or onPollBytes/onGone.
  // Fixed parameter lists, not rest arguments: an array per call would be garbage of the bench's own.
  const handler = forward
    ? {
        onPoll(a: unknown, b: unknown, c: unknown, d: unknown): void {
          n++;
          box.target!.onPoll!(a, b, c, d);
        },
        onPollBytes(a: unknown, b: unknown, c: unknown, d: unknown, e: unknown, f: unknown): void {
          n++;
          box.target!.onPollBytes!(a, b, c, d, e, f);
        },
        onGone(a: unknown, b: unknown, c: unknown): void {
          n++;
          box.target!.onGone!(a, b, c);
        },
      }
    : {
        onPoll(): void {
          n++;
        },
        onPollBytes(): void {
          n++;
        },
        onGone(): void {
          n++;
        },
      };
  return { handler, count: () => n, box };
}

const counters = { bare: counter(false), full: counter(true) };

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

async function run(m: Modules, clients: number, rounds: number, withManager: boolean): Promise<{ fresh: PhaseResult; cycle: PhaseResult }> {
  const ids = Array.from({ length: clients }, (_, i) => `user:${String(i).padStart(11, '0')}`);
  const since = 1_700_000_000_000_000;
  const setup = () => {
    const toManager = m.createRingBuffer(RING_BYTES);
    const fromManager = m.createRingBuffer(RING_BYTES);
    const workerSide = new m.RingManagerPort(toManager, fromManager);
    const managerSide = new m.RingWorkerPort(0, toManager, fromManager);
    const manager = withManager ? new m.Manager({ ttlMs: 60_000, maxQueue: 1000 }, [managerSide]) : null;
    const count = withManager ? counters.full : counters.bare;
    count.box.target = manager as unknown as Target | null;
    managerSide.start(count.handler);
    return { workerSide, managerSide, manager, count };
  };
  type Setup = ReturnType<typeof setup>;
  const phase = async (s: Setup, records: number, write: (i: number) => void): Promise<PhaseResult> => {
    const start = s.count.count();
    // Let the collector's helper threads finish sweeping after collect()'s full collections
    // (process.cpuUsage counts every thread) and the observer report them, then count afresh.
    await new Promise((resolve) => setTimeout(resolve, 250));
    gcs = { minor: 0, major: 0 };
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < records; ) {
      const end = Math.min(records, i + CHUNK);
      for (; i < end; i++) write(i);
      while (s.count.count() < start + i) await new Promise((resolve) => setImmediate(resolve));
    }
    const used = process.cpuUsage(cpu);
    return { records, cpuUs: used.user + used.system, wallMs: performance.now() - t0, minorGcs: gcs.minor, majorGcs: gcs.major };
  };
  // The fresh phase is short at 100k clients, so it is repeated on new managers (about 1M records
  // in all). Each repeat's manager and ports stay alive until the run ends: V8 throws away
  // optimised code that refers to objects that died, so dropping them would make every repeat
  // time a cold start, which a server with one manager for its life never sees.
  const repeats = Math.max(1, Math.round(1_000_000 / clients));
  const fresh: PhaseResult = { records: 0, cpuUs: 0, wallMs: 0, minorGcs: 0, majorGcs: 0 };
  const kept: Setup[] = [];
  let s: Setup | undefined;
  for (let r = 0; r < repeats; r++) {
    if (s !== undefined) kept.push(s);
    collect();
    s = setup();
    const w = s.workerSide;
    // Slot i of worker 0 holds client i; each new poll of a slot has the next generation.
    const one = await phase(s, clients, (i) => w.poll(m.makeHandle(i, 1), since, ids[i]!));
    fresh.records += one.records;
    fresh.cpuUs += one.cpuUs;
    fresh.wallMs += one.wallMs;
    fresh.minorGcs += one.minorGcs;
    fresh.majorGcs += one.majorGcs;
  }
  const last = s!;
  let gen = 1;
  const cycle = await phase(last, clients * rounds * 2, (k) => {
    const i = (k >> 1) % clients;
    if (i === 0 && (k & 1) === 0) gen++;
    if ((k & 1) === 0) last.workerSide.gone(m.makeHandle(i, gen - 1), ids[i]!);
    else last.workerSide.poll(m.makeHandle(i, gen), since, ids[i]!);
  });
  if (last.manager !== null && last.manager.stats().held_polls !== clients) {
    throw new Error(`expected ${clients} held polls, the manager has ${last.manager.stats().held_polls}`);
  }
  for (const k of [...kept, last]) k.managerSide.close();
  return { fresh, cycle };
}

/** A full collection before a phase (with --expose-gc), so no phase pays for an earlier one's garbage. */
function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    gc();
    gc();
  }
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
}

await main();
