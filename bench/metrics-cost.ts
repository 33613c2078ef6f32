// What the metrics cost: one latency observation (the only per-message work they
// add, src/manager/latency-histogram.ts) against prom-client's Histogram.observe
// for the same values, and one scrape of the full exposition (src/metrics/metrics.ts)
// with the sources faked at the given size.
//
//   npm run build:ts && node --expose-gc dist/bench/metrics-cost.js [--observations 5000000] [--runs 3]
//
// Values observed: mostly 0 (a message sent to a held poll), one in eight a wait
// of up to 2 s, as in a busy server whose clients re-poll. Not a test: figures from
// a shared machine vary; take the median of --runs.
import { parseArgs } from 'node:util';

interface HistogramLike {
  observe(ms: number): void;
}
interface PromHistogram {
  observe(value: number): void;
}
interface Modules {
  LatencyHistogram: new () => HistogramLike;
  Metrics: new (sources: object) => { scrape(): Promise<string>; start(): void; stop(): void };
  Histogram: new (config: { name: string; help: string; buckets: number[]; registers: unknown[] }) => PromHistogram;
  Registry: new () => unknown;
  DELIVERY_LATENCY_BUCKETS_S: readonly number[];
}

async function load(): Promise<Modules> {
  const here = new URL('.', import.meta.url);
  const root = here.pathname.endsWith('/dist/bench/') ? '../' : '../dist/';
  const get = async (path: string): Promise<Record<string, unknown>> => (await import(new URL(root + path, here).href)) as Record<string, unknown>;
  const hist = await get('manager/latency-histogram.js');
  const metrics = await get('metrics/metrics.js');
  const prom = (await import('prom-client')) as unknown as Record<string, unknown>;
  return {
    LatencyHistogram: hist.LatencyHistogram as Modules['LatencyHistogram'],
    DELIVERY_LATENCY_BUCKETS_S: hist.DELIVERY_LATENCY_BUCKETS_S as readonly number[],
    Metrics: metrics.Metrics as Modules['Metrics'],
    Histogram: prom.Histogram as Modules['Histogram'],
    Registry: prom.Registry as Modules['Registry'],
  };
}

function values(n: number): Float64Array {
  const out = new Float64Array(n);
  let seed = 12345;
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    out[i] = (seed & 7) === 0 ? (seed % 2000) + (seed % 1000) / 1000 : 0;
  }
  return out;
}

function nsPer(n: number, fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const { values: args } = parseArgs({ options: { observations: { type: 'string', default: '5000000' }, runs: { type: 'string', default: '3' }, threads: { type: 'string', default: '8' } } });
  const n = Number(args.observations);
  const runs = Number(args.runs);
  const threads = Number(args.threads);
  const m = await load();
  const v = values(n);

  const ours: number[] = [];
  const theirs: number[] = [];
  for (let r = 0; r < runs + 1; r++) {
    const h = new m.LatencyHistogram();
    const a = nsPer(n, () => {
      for (let i = 0; i < n; i++) h.observe(v[i]!);
    });
    const p = new m.Histogram({ name: `x${r}`, help: 'x', buckets: [...m.DELIVERY_LATENCY_BUCKETS_S], registers: [new m.Registry()] });
    const b = nsPer(n, () => {
      for (let i = 0; i < n; i++) p.observe(v[i]! / 1000);
    });
    if (r === 0) continue; // warm-up
    ours.push(a);
    theirs.push(b);
  }
  console.log(`observe, ns per observation (median of ${runs}, ${n} each):`);
  console.log(`  LatencyHistogram (typed array)   ${median(ours).toFixed(1)}   runs ${ours.map((x) => x.toFixed(1)).join(' ')}`);
  console.log(`  prom-client Histogram.observe    ${median(theirs).toFixed(1)}   runs ${theirs.map((x) => x.toFixed(1)).join(' ')}`);

  const latency = new m.LatencyHistogram();
  for (let i = 0; i < 1000; i++) latency.observe(v[i]!);
  const rows = Array.from({ length: threads }, () => ({ connections: 125_000, held_polls: 124_000, connections_accepted: 9_000_000, connections_refused: 12, event_loop_lag_us: 3000 }));
  const ring = { toManager: 4096, toWorker: 81920, toWorkerBacklog: 0, capacity: 1 << 21 };
  const metrics = new m.Metrics({
    manager: {
      stats: () => ({ clients: 1e6, held_polls: 992_000, queued: 5000, sent: 1e9, delivered: 1e9, expired: 10, refused: 3, refused_queue_full: 2, refused_memory_full: 1, refused_store_unavailable: 0, memory_used: 5e6, memory_budget: 4e9 }),
      queuedDataSize: () => 123456,
      deliveryLatency: latency,
    },
    threadRows: () => rows,
    appConnections: () => 4,
    rings: () => rows.map(() => ring),
  });
  metrics.start();
  const scrapes: number[] = [];
  let bytes = 0;
  for (let r = 0; r < 50; r++) {
    const start = process.hrtime.bigint();
    bytes = (await metrics.scrape()).length;
    if (r >= 10) scrapes.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  metrics.stop();
  console.log(`scrape with ${threads} worker threads: ${median(scrapes).toFixed(0)} us (median of ${scrapes.length}), ${bytes} bytes of text`);
}

await main();
