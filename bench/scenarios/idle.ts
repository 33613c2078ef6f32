// (a) Idle: hold 1k, then 5k, then 15k polls that nothing answers; the server's RSS and the
// kernel's socket memory per connection at each level.
//
// RSS moves for reasons that have nothing to do with the polls held: code pages of the node
// binary fault in the first time a request is handled (~4 MB), and V8's memory reducer shrinks
// each isolate's heap (young generation, free pages) by several MB some 8 s after the isolate
// starts, and again 8 s later when the first try found it busy. It re-arms only when committed
// heap grew by 10 MB and 10% since its last run, which a server within budget never does. So:
// warm-up polls right after start (from clients outside the measured range, kept held), the
// baseline read once that start-up shrinking is over, and every reading the median of several.
// Per-poll figures are the growth from that warm baseline over N, and the slope between levels.
import { DEFAULT_CONNECT_RATE, DEFAULT_PER_PROCESS } from '../lib/generator-sizing.js';
import type { JsonObject } from '../lib/json-fields.js';
import { describeMachine } from '../lib/machine.js';
import { type MemoryReading, readSettled, traceRssUntil } from '../lib/memory-samples.js';
import { PollerFleet } from '../lib/poller-fleet.js';
import { type RunningServer, startServer } from '../lib/server-process.js';
import { waitForHeldPolls } from './held-polls.js';
import type { Figure, Scenario, ScenarioContext } from './scenario.js';
import { settingsFor } from './server-settings.js';

/** Polls held before the baseline reading, and through the whole scenario. */
const WARM_POLLS = 2000;
/** The server's own sockets (listeners, epoll, rings, app connections) besides the polls. */
const SERVER_FILES = 500;
/**
 * The baseline is read this long after the server is ready: V8's memory reducer first runs 8 s
 * after an isolate starts and, when that isolate was busy then (the warm-up), 8 s later again.
 */
const STARTUP_QUIET_MS = 19_000;
/** After the polls of a level are held, the reading waits this long (scavenges, late accepts). */
const SETTLE_MS = 2000;
/** Each reading is the median of SAMPLES readings SAMPLE_INTERVAL_MS apart. */
const SAMPLES = 5;
const SAMPLE_INTERVAL_MS = 400;
/** RSS is traced this often while a level settles (results file only). */
const TRACE_MS = 1000;

const MIB = 1048576;

interface Level {
  level: number;
  reading: MemoryReading;
  rssSeries: number[];
  trace: Array<[number, number]>;
  heldSeconds: number;
  serverHeld: number | null;
}

/** Waits until `notBefore` (and SETTLE_MS after `heldAt`), then reads memory (median of SAMPLES). */
async function settledReading(server: RunningServer, heldAt: number, notBefore: number): Promise<Pick<Level, 'reading' | 'rssSeries' | 'trace'>> {
  const trace = await traceRssUntil(server.pid, heldAt, Math.max(notBefore, heldAt + SETTLE_MS), TRACE_MS);
  const settled = await readSettled(server.pid, SAMPLES, SAMPLE_INTERVAL_MS);
  return { reading: settled.median, rssSeries: settled.rssSeries, trace };
}

/** Warm-up polls that fit beside the largest level within the open-files limit. */
function warmPollCount(largest: number): number {
  const limit = Number(describeMachine().fileLimit);
  if (!Number.isFinite(limit)) return WARM_POLLS;
  return Math.max(0, Math.min(WARM_POLLS, limit - largest - SERVER_FILES));
}

async function holdAndRead(ctx: ScenarioContext, server: RunningServer, fleet: PollerFleet, total: number, label: string, notBefore = 0): Promise<Omit<Level, 'level'>> {
  const held = await waitForHeldPolls(ctx, server, fleet, total, label);
  const heldAt = Date.now();
  ctx.progress.watch(() => `${ctx.target} ${label}: ${total} polls held, letting the heaps settle`);
  const settled = await settledReading(server, heldAt, notBefore);
  if (server.hasExited()) throw new Error(`${ctx.target} exited while holding ${total} polls: ${server.stderrTail()}`);
  return { ...settled, heldSeconds: held.seconds, serverHeld: held.serverHeld };
}

export const idle: Scenario = {
  name: 'idle',
  // Longer than the whole scenario: no poll is answered (and re-sent) while memory is read.
  pollTimeout: 600,
  description: 'hold 1k, 5k, 15k polls after a warm-up and 19 s of start-up: server user-space bytes (RSS) and kernel bytes (Slab) per held poll, from the warm baseline and between levels',
  async run(ctx) {
    const levels = [...new Set(ctx.options.connections ?? [1000, 5000, 15_000])].sort((a, b) => a - b);
    const largest = levels[levels.length - 1] ?? 0;
    const warm = warmPollCount(largest);
    const server = await startServer(ctx.repoRoot, ctx.target, settingsFor(ctx, idle.pollTimeout), ctx.registry);
    const readyAt = Date.now();
    const fleet = new PollerFleet({
      loadgen: ctx.loadgen, host: server.host, port: server.port, perProcess: ctx.options.perProcess ?? DEFAULT_PER_PROCESS,
      connectRate: ctx.options.connectRate ?? DEFAULT_CONNECT_RATE, maxSeconds: ctx.remainingSeconds(), registry: ctx.registry, mode: ctx.options.transport, protocol: server.protocol,
    });
    try {
      // Warm-up clients come after the measured ones (same id length), so no level reuses them.
      if (warm > 0) fleet.add(largest, warm);
      const base = await holdAndRead(ctx, server, fleet, warm, `idle warm-up (${warm} polls)`, readyAt + STARTUP_QUIET_MS);
      const figures: Figure[] = [];
      const details: JsonObject[] = [];
      let previous: { level: number; reading: MemoryReading } = { level: 0, reading: base.reading };
      for (const level of levels) {
        fleet.add(previous.level, level - previous.level);
        const r = await holdAndRead(ctx, server, fleet, warm + level, `idle ${level}`);
        const grown = r.reading.rss - base.reading.rss;
        const slope = previous.level > 0 ? (r.reading.rss - previous.reading.rss) / (level - previous.level) : null;
        const kernel = (r.reading.slab - base.reading.slab) / level;
        figures.push(
          { name: `user bytes per held poll @${level}`, unit: 'B', better: 'lower', value: grown / level, target: '<= 256' },
          ...(slope === null ? [] : [{ name: `user bytes per held poll, slope ${previous.level}->${level}`, unit: 'B', better: 'lower' as const, value: slope, target: '<= 256' }]),
          { name: `kernel bytes per connection @${level}`, unit: 'B', better: 'lower', value: kernel },
          { name: `server RSS @${level}`, unit: 'MiB', better: 'lower', value: r.reading.rss / MIB },
          { name: `seconds to hold ${level} polls`, unit: 's', better: 'lower', value: r.heldSeconds },
        );
        details.push({
          level,
          held_seconds: r.heldSeconds,
          server_held: r.serverHeld,
          reading: { ...r.reading },
          rss_series: r.rssSeries,
          rss_trace_ms_bytes: r.trace,
          user_bytes_per_poll: grown / level,
          anon_bytes_per_poll: (r.reading.anon - base.reading.anon) / level,
          file_bytes_per_poll: (r.reading.file - base.reading.file) / level,
          slope_bytes_per_poll: slope,
          kernel_bytes_per_connection: kernel,
          tcp_sockets_added: r.reading.tcpInUse - base.reading.tcpInUse,
          generator_processes: fleet.processCount,
        });
        previous = { level, reading: r.reading };
      }
      const pollers = await fleet.finish();
      return {
        figures,
        details: {
          levels,
          warm_polls: warm,
          startup_quiet_ms: STARTUP_QUIET_MS,
          settle_ms: SETTLE_MS,
          samples: SAMPLES,
          sample_interval_ms: SAMPLE_INTERVAL_MS,
          base: { reading: { ...base.reading }, rss_series: base.rssSeries, rss_trace_ms_bytes: base.trace, held_seconds: base.heldSeconds },
          readings: details,
          note: 'user bytes = VmRSS growth from the warm baseline (warm_polls held); slope = RSS growth between consecutive levels per added poll; anon/file split RSS into allocated and file-backed (code) pages; kernel bytes are the Slab growth of the whole machine divided by the connections: both ends of each loopback connection (client and server socket), and whatever else ran meanwhile',
          poller_errors: pollers.errors,
          responses_while_idle: pollers.polls - pollers.clients,
        },
      };
    } finally {
      await fleet.finish().catch(() => undefined);
      await server.stop();
    }
  },
};
