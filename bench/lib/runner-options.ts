// The bench runner's command line (`node dist/bench/run.js --help`), validated once and frozen.
import { TARGET_NAMES, type TargetName } from './server-process.js';

export const SCENARIO_NAMES = ['idle', 'throughput', 'sse', 'latency', 'churn', 'fanout', 'broadcast', 'repoll', 'million', 'redis'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];
/** What `npm run bench` (and --scenario all) runs: million only when named, it needs the VM; redis (--redis) only when named, it needs redis-server. */
export const DEFAULT_SCENARIOS: readonly ScenarioName[] = ['idle', 'throughput', 'sse', 'latency', 'churn', 'fanout', 'broadcast', 'repoll'];
/** Connections of the million scenario unless --connections says otherwise. */
export const MILLION_DEFAULT_CONNECTIONS = 1_000_000;

export interface RunnerOptions {
  readonly scenarios: readonly ScenarioName[];
  readonly targets: readonly TargetName[];
  /** True when --target named the targets: a missing Nchan is then an error, not a skip. */
  readonly targetsGiven: boolean;
  /** Clients: idle takes a list of levels, the others the first value. null: each scenario's default. */
  readonly connections: readonly number[] | null;
  /** throughput: messages; fanout: rounds. */
  readonly messages: number | null;
  /** latency: messages/s; churn: connections/s; fanout: rounds/s (0: as fast as acknowledged). */
  readonly rate: number | null;
  /** latency: every rate of --rate R1,R2,... (each a fresh server); null: 20000,5000,100. */
  readonly rates: readonly number[] | null;
  /** Each scenario but idle runs this many times, targets interleaved; figures are medians. */
  readonly repeat: number;
  /** latency and churn: seconds of load. */
  readonly duration: number | null;
  /** App lines in flight at most (throughput, latency; fanout counts lines of 1 round). */
  readonly window: number | null;
  /** MegaComet's --threads. */
  readonly threads: number;
  /** Everything, servers included, is killed after this many seconds. */
  readonly maxSeconds: number;
  /** Polling clients per generator process at most; null: 9000, or sized by the million scenario. */
  readonly perProcess: number | null;
  /** Connects per second per generator process at most (0: no limit); null: 3000, or sized by million. */
  readonly connectRate: number | null;
  /** Results file; default bench/results/<UTC time>.json. */
  readonly out: string | null;
  /** million: which send forms to run, in order (default both). */
  readonly forms: readonly MillionForm[];
  readonly help: boolean;
  /** How the clients subscribe: long-polls (default), or event streams (set by the sse scenario). */
  readonly transport?: 'poll' | 'sse';
}

export const USAGE = `usage: npm run bench -- [flags]     (or: node dist/bench/run.js [flags] after a build)
  --scenario LIST     idle,throughput,sse,latency,churn,fanout,broadcast,repoll,million,redis or all (default
                      all: every one but million, which needs a machine with a high open-files limit,
                      and redis, which needs redis-server: apt-get install -y redis-server)
  --redis             = --scenario redis: two nodes on one Redis, MegaComet --redis against Nchan's
                      Redis storage (10000 clients, 100000 messages unless --connections/--messages)
  --target LIST       megacomet,megacomet-t8,nchan,baseline or all (default all; nchan is left out,
                      with a note, when nginx and its Nchan module are not installed:
                      apt-get install -y nginx-light libnginx-mod-nchan); both = megacomet,baseline;
                      megacomet-t8 is MegaComet with --threads 8; --only-baseline = --target baseline
  --connections N[,N] clients (idle: levels, default 1000,5000,15000; throughput/latency 10000;
                      fanout 5000; broadcast 10000; repoll 15000; million 1000000; churn: ignored)
  --messages N        throughput: messages (200000); fanout, broadcast: rounds to every client (20)
  --rate R[,R]        latency: msgs/s, each rate on a fresh server (20000,5000,100); churn:
                      connections/s (2000); fanout: rounds/s (0 = as fast as acknowledged);
                      million: recipients/s of each send form (default: as fast as acknowledged;
                      in the VM pace it near the delivery rate, see BENCHMARKS)
  --repeat N          run each scenario but idle N times, targets interleaved, and report the
                      median of each figure (1)
  --duration S        latency: seconds at the rate (8); churn: seconds of churn (5)
  --window W          app lines in flight (throughput/latency 1000, fanout 2)
  --threads N         MegaComet --threads (2)
  --per-process N     polling clients per generator process (9000; must stay under the
                      open-files limit, 20000 on the development machines; million: 250000
                      where the limit is 100000 or more)
  --connect-rate R    connects/s per generator process while clients start (3000; 0 = no limit;
                      million where the limit is 100000 or more: 2000/s over all processes)
  --max-seconds S     hard limit: everything is killed after S seconds (600; with million
                      300 + 1 s per 250 connections, at least 600)
  --out FILE          results JSON (default bench/results/<UTC time>.json)
  --forms LIST        million: single,batched,group (default all three): single sends and
                      10,000-id batches reach every client once each; group joins the first
                      100,000 clients to one group and publishes once to it; in the VM each of the
                      first two takes ~11-20 minutes at 1M
Prints a table (every figure also as ratios megacomet/nchan, megacomet/baseline and
megacomet-t8/megacomet) and writes the JSON file and an HTML report beside it.`;

export const MILLION_FORMS = ['single', 'batched', 'group'] as const;
export type MillionForm = (typeof MILLION_FORMS)[number];

export class RunnerOptionError extends Error {}

function positive(flag: string, text: string, integer: boolean, allowZero = false): number {
  const n = Number(text);
  const ok = text.trim() !== '' && Number.isFinite(n) && (allowZero ? n >= 0 : n > 0) && (!integer || Number.isInteger(n));
  if (!ok) throw new RunnerOptionError(`${flag} expects a ${allowZero ? 'non-negative' : 'positive'} ${integer ? 'integer' : 'number'}, got "${text}"`);
  return n;
}

export function parseRunnerOptions(argv: readonly string[]): RunnerOptions {
  let scenarios: ScenarioName[] = [...DEFAULT_SCENARIOS];
  let targets: TargetName[] = [...TARGET_NAMES];
  let targetsGiven = false;
  let rates: number[] | null = null;
  let repeat = 1;
  let connections: number[] | null = null;
  let messages: number | null = null;
  let rate: number | null = null;
  let duration: number | null = null;
  let window: number | null = null;
  let threads = 2;
  let maxSeconds: number | null = null;
  let perProcess: number | null = null;
  let connectRate: number | null = null;
  let out: string | null = null;
  let forms: MillionForm[] = [...MILLION_FORMS];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] ?? '';
    if (flag === '--help' || flag === '-h') {
      help = true;
      continue;
    }
    if (flag === '--redis') {
      scenarios = ['redis'];
      continue;
    }
    if (flag === '--only-baseline') {
      targets = ['baseline'];
      targetsGiven = true;
      continue;
    }
    const value = argv[++i];
    if (value === undefined) throw new RunnerOptionError(`${flag} needs a value`);
    switch (flag) {
      case '--scenario': {
        const names = value.split(',').map((s) => s.trim());
        if (names.includes('all')) {
          scenarios = [...DEFAULT_SCENARIOS];
          break;
        }
        for (const n of names) {
          if (!(SCENARIO_NAMES as readonly string[]).includes(n)) throw new RunnerOptionError(`--scenario: unknown scenario "${n}" (expected ${SCENARIO_NAMES.join(', ')} or all)`);
        }
        scenarios = SCENARIO_NAMES.filter((n) => names.includes(n));
        break;
      }
      case '--target': {
        targetsGiven = true;
        if (value === 'all') {
          targets = [...TARGET_NAMES];
          break;
        }
        const names = value === 'both' ? ['megacomet', 'baseline'] : value.split(',').map((t) => t.trim());
        for (const n of names) {
          if (!(TARGET_NAMES as readonly string[]).includes(n)) throw new RunnerOptionError(`--target: unknown target "${n}" (expected ${TARGET_NAMES.join(', ')}, all or both)`);
        }
        targets = TARGET_NAMES.filter((t) => names.includes(t));
        break;
      }
      case '--connections':
        connections = value.split(',').map((v) => positive(flag, v, true));
        break;
      case '--messages': messages = positive(flag, value, true); break;
      case '--rate':
        rates = value.split(',').map((v) => positive(flag, v, false, true));
        rate = rates[0] ?? null;
        break;
      case '--repeat': repeat = positive(flag, value, true); break;
      case '--duration': duration = positive(flag, value, false); break;
      case '--window': window = positive(flag, value, true); break;
      case '--threads': threads = positive(flag, value, true); break;
      case '--max-seconds': maxSeconds = positive(flag, value, false); break;
      case '--per-process': perProcess = positive(flag, value, true); break;
      case '--connect-rate': connectRate = positive(flag, value, false, true); break;
      case '--out': out = value; break;
      case '--forms': {
        const names = value.split(',');
        for (const n of names) {
          if (!(MILLION_FORMS as readonly string[]).includes(n)) throw new RunnerOptionError(`--forms: unknown form "${n}" (expected single, batched or group)`);
        }
        forms = MILLION_FORMS.filter((f) => names.includes(f));
        break;
      }
      default:
        throw new RunnerOptionError(`unknown flag ${flag}\n${USAGE}`);
    }
  }
  // A million connections take many minutes to open and close in the VM: the hard limit grows
  // with them unless given.
  if (maxSeconds === null) {
    maxSeconds = scenarios.includes('million') ? Math.max(600, 300 + Math.ceil((connections?.[0] ?? MILLION_DEFAULT_CONNECTIONS) / 250)) : 600;
  }
  return Object.freeze({ scenarios, targets, targetsGiven, rates, repeat, connections, messages, rate, duration, window, threads, maxSeconds, perProcess, connectRate, out, forms, help });
}
