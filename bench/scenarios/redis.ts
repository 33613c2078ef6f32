// (redis) Two nodes on one Redis (issue 13): MegaComet --redis, or Nchan with Redis storage, two
// instances of either on the run's one redis-server, emptied before each target. Half the clients poll node A, half node B,
// and every message is sent through the node its client does not poll, so each one crosses
// Redis. Reports delivered msgs/s, latency and loss over both nodes, the CPU of both nodes and
// of Redis per message, and Redis's memory per idle client and per queued message.
import { DEFAULT_CONNECT_RATE, DEFAULT_PER_PROCESS } from '../lib/generator-sizing.js';
import { Histogram } from '../lib/histogram.js';
import { type JsonObject, numberField } from '../lib/json-fields.js';
import { startLoadgen } from '../lib/loadgen-process.js';
import { PollerFleet, type PollerTotals } from '../lib/poller-fleet.js';
import { type BenchRedis, sharedBenchRedis } from '../lib/redis-server.js';
import { type RunningServer, startServer } from '../lib/server-process.js';
import { sleep } from '../lib/wait.js';
import { waitForDeliveries } from './delivery-wait.js';
import { waitForHeldPolls } from './held-polls.js';
import type { Figure, Scenario, ScenarioContext } from './scenario.js';
import { settingsFor } from './server-settings.js';

const NODES = 2;
/** Messages queued for clients that never poll, for Redis's bytes per queued message. */
const QUEUED_MESSAGES = 20_000;
const QUEUED_CLIENTS = 2_000;

export const redis: Scenario = {
  name: 'redis',
  pollTimeout: 120,
  description:
    '2 nodes on one Redis, 10k clients split over them, 100k messages each sent through the node its client does not poll: delivered msgs/s, latency, loss; Redis memory per idle client and per queued message',
  unsupported: {
    baseline: 'the baseline keeps its queues in its own process: it has no shared store',
    'megacomet-t8': 'the redis scenario runs each MegaComet node with --threads 1, as each Nchan instance has 1 worker',
  },
  async run(ctx) {
    const clients = ctx.options.connections?.[0] ?? 10_000;
    const messages = ctx.options.messages ?? 100_000;
    const window = ctx.options.window ?? 1000;
    const half = Math.floor(clients / NODES);
    // Every target uses the run's one Redis, emptied first: the same Redis, the same run.
    const store = await sharedBenchRedis(ctx.registry);
    const nodes: RunningServer[] = [];
    const fleets: PollerFleet[] = [];
    try {
      const memoryEmpty = await store.usedMemory();
      // One worker thread per node: two nodes on two cores, as two one-worker nginx instances.
      const settings = { ...settingsFor(ctx, redis.pollTimeout), threads: 1, redisUrl: store.url };
      for (let i = 0; i < NODES; i++) nodes.push(await startServer(ctx.repoRoot, ctx.target, settings, ctx.registry));
      const memoryNodes = await store.usedMemory();
      for (const [i, node] of nodes.entries()) {
        const fleet = new PollerFleet({
          loadgen: ctx.loadgen, host: node.host, port: node.port, perProcess: ctx.options.perProcess ?? DEFAULT_PER_PROCESS,
          connectRate: ctx.options.connectRate ?? DEFAULT_CONNECT_RATE, maxSeconds: ctx.remainingSeconds(), registry: ctx.registry, protocol: node.protocol,
        });
        fleet.add(i * half, half);
        fleets.push(fleet);
      }
      for (const [i, node] of nodes.entries()) await waitForHeldPolls(ctx, node, fleets[i]!, half, `redis node ${i}`);
      const memoryHeld = await store.usedMemory();
      const keysHeld = await store.keys();

      const cpu = (): number => nodes.reduce((sum, n) => sum + n.cpuSeconds(), 0);
      const cpuBefore = cpu();
      const redisCpuBefore = store.cpuSeconds();
      // Sender i goes through node i and writes to the clients polling the other node.
      const senders = nodes.map((node, i) =>
        startLoadgen(ctx.loadgen, [
          'send', '--protocol', node.protocol, '--app-host', node.host, '--app-port', String(node.appPort),
          '--clients', String(half), '--first-client', String(((i + 1) % NODES) * half),
          '--messages', String(Math.floor(messages / NODES)), '--window', String(Math.max(1, Math.floor(window / NODES))),
          '--max-seconds', String(Math.max(1, Math.floor(ctx.remainingSeconds() - 10))),
        ], `send redis via node ${i}`, ctx.registry),
      );
      const received = (): number => fleets.reduce((sum, f) => sum + f.sum('received') - f.sum('duplicated'), 0);
      ctx.progress.watch(() => {
        const sent = senders.reduce((sum, s) => sum + (s.progress()['ok'] ?? 0), 0);
        return `${ctx.target} redis: acknowledged ${sent}, received ${received()}`;
      });
      const results = await Promise.all(senders.map((s) => s.result));
      const deliveriesOk = results.reduce((sum, r) => sum + numberField(r, 'deliveries_ok', 'send result'), 0);
      const deliveriesRefused = results.reduce((sum, r) => sum + numberField(r, 'deliveries_refused', 'send result'), 0);
      const firstWrite = Math.min(...results.map((r) => numberField(r, 'first_write_ns', 'send result')));
      await waitForDeliveries(ctx, 'redis', nodes, received, deliveriesOk);
      await sleep(300);
      const serverCpu = cpu() - cpuBefore;
      const redisCpu = store.cpuSeconds() - redisCpuBefore;
      const totals: PollerTotals[] = [];
      for (const fleet of fleets) totals.push(await fleet.finish());
      const latency = new Histogram();
      for (const t of totals) latency.merge(t.latency);
      const unique = totals.reduce((sum, t) => sum + t.received - t.duplicated, 0);
      const duplicated = totals.reduce((sum, t) => sum + t.duplicated, 0);
      const lastReceive = Math.max(...totals.map((t) => t.lastReceiveNs));
      const seconds = lastReceive > firstWrite ? (lastReceive - firstWrite) / 1e9 : 0;

      const queued = await measureQueued(ctx, nodes[0]!, store, clients);
      const l = latency.summaryMs();
      const perMsg = (s: number): number | null => (unique > 0 ? (s * 1e6) / unique : null);
      const figures: Figure[] = [
        { name: 'delivered msgs/s (2 nodes)', unit: 'msg/s', better: 'higher', value: seconds > 0 ? unique / seconds : null },
        { name: 'latency p50', unit: 'ms', better: 'lower', value: l.p50 },
        { name: 'latency p99', unit: 'ms', better: 'lower', value: l.p99 },
        { name: 'latency max', unit: 'ms', better: 'lower', value: l.max },
        { name: 'lost', unit: 'msgs', better: 'lower', value: Math.max(0, deliveriesOk - unique), target: '0' },
        { name: 'duplicated', unit: 'msgs', better: 'lower', value: duplicated, target: '0' },
        { name: 'refused by server', unit: 'msgs', better: 'lower', value: deliveriesRefused },
        { name: 'nodes CPU per delivered msg', unit: 'us', better: 'lower', value: perMsg(serverCpu) },
        { name: 'Redis CPU per delivered msg', unit: 'us', better: 'lower', value: perMsg(redisCpu) },
        { name: 'Redis bytes per idle client', unit: 'B', better: 'lower', value: clients > 0 ? (memoryHeld - memoryNodes) / clients : null },
        { name: 'Redis bytes per queued msg', unit: 'B', better: 'lower', value: queued.bytesPerMessage },
      ];
      const details: JsonObject = {
        clients, messages, window, nodes: NODES, deliveries_ok: deliveriesOk, deliveries_refused: deliveriesRefused, unique, duplicated,
        gaps: totals.reduce((sum, t) => sum + t.gaps, 0), seconds, latency_ms: { ...l },
        nodes_cpu_seconds: serverCpu, redis_cpu_seconds: redisCpu,
        redis_memory: { empty: memoryEmpty, nodes_connected: memoryNodes, polls_held: memoryHeld, keys_with_polls_held: keysHeld, ...queued.details },
        node_args: [...nodes[0]!.args],
      };
      return { figures, details };
    } finally {
      for (const fleet of fleets) await fleet.finish().catch(() => undefined);
      for (const node of nodes) await node.stop().catch(() => undefined);
    }
  },
};

/**
 * Redis's bytes per queued message: QUEUED_MESSAGES sent to QUEUED_CLIENTS clients nobody polls
 * (ids after the polling ones), used_memory before and after. The loadgen's data is about 40
 * bytes of JSON ({"t":...,"s":...}), in the figure.
 */
async function measureQueued(ctx: ScenarioContext, node: RunningServer, store: BenchRedis, firstClient: number): Promise<{ bytesPerMessage: number | null; details: JsonObject }> {
  const before = await store.usedMemory();
  const result = await startLoadgen(ctx.loadgen, [
    'send', '--protocol', node.protocol, '--app-host', node.host, '--app-port', String(node.appPort),
    '--clients', String(QUEUED_CLIENTS), '--first-client', String(firstClient), '--messages', String(QUEUED_MESSAGES), '--window', '500',
    '--max-seconds', String(Math.max(1, Math.floor(ctx.remainingSeconds() - 5))),
  ], 'send redis queued', ctx.registry).result;
  const ok = numberField(result, 'deliveries_ok', 'queued send result');
  const after = await store.usedMemory();
  return {
    bytesPerMessage: ok > 0 ? (after - before) / ok : null,
    details: { before_queued: before, after_queued: after, queued_ok: ok, queued_clients: QUEUED_CLIENTS },
  };
}
