// The flow shared by the throughput, latency and fan-out scenarios: a server, N polling clients,
// one app sender; then the sender's report and the clients' report compared.
import { DEFAULT_CONNECT_RATE, DEFAULT_PER_PROCESS } from '../lib/generator-sizing.js';
import { Histogram } from '../lib/histogram.js';
import { type JsonObject, numberField } from '../lib/json-fields.js';
import { startLoadgen } from '../lib/loadgen-process.js';
import { PollerFleet, type PollerTotals, errorTotal } from '../lib/poller-fleet.js';
import { megacometThreads, startServer } from '../lib/server-process.js';
import { type PhaseUsage, identifyRoles, perMessage, phaseUsage, readThreads } from '../lib/thread-usage.js';
import { sleep, waitUntil } from '../lib/wait.js';
import { waitForDeliveries } from './delivery-wait.js';
import { type HeldCheck, waitForHeldPolls } from './held-polls.js';
import type { ScenarioContext } from './scenario.js';
import { settingsFor } from './server-settings.js';

export interface DeliveryPlan {
  /** Scenario name for progress lines. */
  label: string;
  clients: number;
  /** Sender flags besides ports and client range (--messages, --rate, --window, --fanout...). */
  senderArgs: string[];
  /** Poll timeout of the server: longer than the run, so polls are answered by messages only. */
  pollTimeout: number;
  /** Nchan only: every poller subscribes to this one channel (broadcast). */
  channel?: string;
  /**
   * Sender flags of an unmeasured warm-up before the measured sender (same clients): its messages
   * are delivered and then left out of every figure (latency, loss, CPU, wake-ups), so a freshly
   * started server's one-off costs (a JIT compiling its hot paths) are not billed to the few
   * messages of a low rate. Every target gets the same warm-up.
   */
  warmupArgs?: string[];
  /** Runs once every poll is held, before the sender starts (broadcast: joins the clients to the group). */
  prepare?: (server: { host: string; appPort: number }) => Promise<void>;
}

export interface DeliveryOutcome {
  held: HeldCheck;
  sender: JsonObject;
  pollers: PollerTotals;
  /** Messages the server accepted (per client: a fan-out line to 5000 clients counts 5000). */
  deliveriesOk: number;
  deliveriesRefused: number;
  /** Messages received once (received - duplicated). */
  unique: number;
  lost: number;
  /** From the sender's first write to the last message received, seconds. */
  seconds: number;
  /** Sender's reply latency (write to ok), for the JSON file. */
  ackLatency: Histogram;
  serverRssAfter: number;
  /** CPU seconds the server used from the first send to the end of delivery. */
  serverCpuSeconds: number;
  /** CPU seconds the generator processes (pollers and sender) used over the whole scenario. */
  generatorCpuSeconds: number;
  /** CPU and wake-ups of each server thread over the same span as serverCpuSeconds. */
  threads: PhaseUsage;
}


export async function runDelivery(ctx: ScenarioContext, plan: DeliveryPlan): Promise<DeliveryOutcome> {
  const server = await startServer(ctx.repoRoot, ctx.target, settingsFor(ctx, plan.pollTimeout), ctx.registry);
  const fleet = new PollerFleet({
    loadgen: ctx.loadgen, host: server.host, port: server.port, perProcess: ctx.options.perProcess ?? DEFAULT_PER_PROCESS,
    connectRate: ctx.options.connectRate ?? DEFAULT_CONNECT_RATE, maxSeconds: ctx.remainingSeconds(), registry: ctx.registry, mode: ctx.options.transport, protocol: server.protocol,
    ...(plan.channel === undefined ? {} : { channel: plan.channel }),
  });
  try {
    // Named while the server is idle: its event-loop threads then all wait in epoll.
    const roles = await identifyRoles(ctx.target, server.processIds(), megacometThreads(ctx.target, ctx.options.threads));
    fleet.add(0, plan.clients);
    const held = await waitForHeldPolls(ctx, server, fleet, plan.clients, plan.label);
    if (plan.prepare !== undefined) await plan.prepare(server);
    const senderFlags = (): string[] => ['send', '--protocol', server.protocol, '--app-host', server.host, '--app-port', String(server.appPort), '--clients', String(plan.clients), '--max-seconds', String(Math.max(1, Math.floor(ctx.remainingSeconds() - 10)))];
    // What the warm-up's messages added to the pollers' cumulative counters, taken off below.
    let before = { received: 0, duplicated: 0 };
    if (plan.warmupArgs !== undefined) {
      const warm = await startLoadgen(ctx.loadgen, [...senderFlags(), ...plan.warmupArgs], `warm-up ${plan.label}`, ctx.registry).result;
      const warmOk = numberField(warm, 'deliveries_ok', 'warm-up send result');
      await waitUntil(`${plan.label} warm-up deliveries`, () => {
        if (server.hasExited()) throw new Error(`${ctx.target} exited during the warm-up of ${plan.label}: ${server.stderrTail()}`);
        return fleet.sum('received') - fleet.sum('duplicated') >= warmOk;
      }, Math.max(1000, Math.min(60, ctx.remainingSeconds() - 5) * 1000), 50);
      // A snapshot restarts every poller's latency histogram: the final one covers the measured sends only.
      const snap = await fleet.snapshot();
      before = { received: snap.received, duplicated: snap.duplicated };
    }
    const threadsBefore = readThreads(server.processIds());
    const cpuBefore = server.cpuSeconds();
    const sender = startLoadgen(ctx.loadgen, [...senderFlags(), ...plan.senderArgs], `send ${plan.label}`, ctx.registry);
    ctx.progress.watch(() => {
      const s = sender.progress();
      return `${ctx.target} ${plan.label}: sent ${s['sent'] ?? 0}, acknowledged ${s['ok'] ?? 0}, refused ${s['refused'] ?? 0}, received ${fleet.sum('received')}`;
    });
    const sent = await sender.result;
    const deliveriesOk = numberField(sent, 'deliveries_ok', 'send result');

    const warmUnique = before.received - before.duplicated;
    await waitForDeliveries(ctx, plan.label, [server], () => fleet.sum('received') - fleet.sum('duplicated') - warmUnique, deliveriesOk);
    await sleep(300);  // one more progress interval: late duplicates would show
    if (server.hasExited()) throw new Error(`${ctx.target} exited during ${plan.label}: ${server.stderrTail()}`);
    const serverCpuSeconds = server.cpuSeconds() - cpuBefore;
    const threads = phaseUsage(threadsBefore, readThreads(server.processIds()), roles);
    const serverRssAfter = server.rss();
    const all = await fleet.finish();
    const pollers = { ...all, received: all.received - before.received, duplicated: all.duplicated - before.duplicated };
    const unique = pollers.received - pollers.duplicated;
    const firstWrite = numberField(sent, 'first_write_ns', 'send result');
    const ackLatency = new Histogram();
    const ack = sent['ack_latency'];
    if (typeof ack === 'object' && ack !== null && !Array.isArray(ack)) ackLatency.addJson(ack as JsonObject, 'send result');
    return {
      held,
      sender: sent,
      pollers,
      deliveriesOk,
      deliveriesRefused: numberField(sent, 'deliveries_refused', 'send result'),
      unique,
      lost: Math.max(0, deliveriesOk - unique),
      seconds: pollers.lastReceiveNs > firstWrite ? (pollers.lastReceiveNs - firstWrite) / 1e9 : 0,
      ackLatency,
      serverRssAfter,
      serverCpuSeconds,
      generatorCpuSeconds: pollers.cpuSeconds + numberField(sent, 'cpu_seconds', 'send result'),
      threads,
    };
  } finally {
    await fleet.finish().catch(() => undefined);
    await server.stop();
  }
}

/** The JSON-file view of an outcome (histograms as summaries). */
export function outcomeDetails(o: DeliveryOutcome): JsonObject {
  return {
    held: { ...o.held },
    deliveries_ok: o.deliveriesOk,
    deliveries_refused: o.deliveriesRefused,
    received: o.pollers.received,
    unique: o.unique,
    duplicated: o.pollers.duplicated,
    gaps: o.pollers.gaps,
    lost: o.lost,
    seconds: o.seconds,
    poller_processes: o.pollers.processes,
    poller_errors: o.pollers.errors,
    poller_error_total: errorTotal(o.pollers.errors),
    polls: o.pollers.polls,
    latency_ms: { ...o.pollers.latency.summaryMs() },
    ack_latency_ms: { ...o.ackLatency.summaryMs() },
    sender: { ...o.sender, ack_latency: undefined },
    server_rss_after: o.serverRssAfter,
    server_cpu_seconds: o.serverCpuSeconds,
    generator_cpu_seconds: o.generatorCpuSeconds,
    // Per thread role over the measured span: CPU us and voluntary context switches (wake-ups)
    // per delivered message.
    threads: perMessage(o.threads, o.unique).map((r) => ({ ...r })),
  };
}
