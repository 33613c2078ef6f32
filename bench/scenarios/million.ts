// (g) A million held polls (--connections, default 1,000,000): hold them, read the memory they
// cost (user space from the server's start and from a warm baseline, kernel Slab and sockstat),
// the server's CPU while they sit idle, then send one message to every client twice (once as
// single `send` lines, once as `send` with `clients` batches of up to 10,000 ids) and check that
// each client got exactly its message, and finally stop the server with SIGTERM and time it.
//
// One server process holds every poll, so the open-files limit must exceed the connections:
// 20,000 per process on the development machines, hence the VM (docs/BENCHMARKS.md) at scale.
import { appRequest } from '../lib/app-client.js';
import { sizeGenerators } from '../lib/generator-sizing.js';
import { type JsonObject, numberField } from '../lib/json-fields.js';
import { startLoadgen } from '../lib/loadgen-process.js';
import { describeMachine } from '../lib/machine.js';
import { type MemoryReading, MemoryTrace, readMemory, readSettled, traceRssUntil } from '../lib/memory-samples.js';
import { PollerFleet, type PollerSnapshot, errorTotal } from '../lib/poller-fleet.js';
import { formatNumber } from '../lib/report.js';
import { type RunningServer, startServer } from '../lib/server-process.js';
import { sleep, waitUntil } from '../lib/wait.js';
import { waitForHeldPolls } from './held-polls.js';
import type { Figure, Scenario, ScenarioContext } from './scenario.js';
import { settingsOf } from './server-settings.js';

/** Polls held from the server's start to the end, outside the measured clients (as in idle). */
const WARM_POLLS = 2000;
/** The server's own files besides the polls (listeners, epoll sets, rings, app connections). */
const SERVER_FILES = 500;
/** The warm baseline is read this long after the server is ready (V8's start-up shrinking, see idle.ts). */
const STARTUP_QUIET_MS = 19_000;
/** After the polls are held, the reading waits this long; then SAMPLES readings SAMPLE_INTERVAL_MS apart, median kept. */
const SETTLE_MS = 2000;
const SAMPLES = 5;
const SAMPLE_INTERVAL_MS = 400;
/** Server RSS and the machine's memory are traced this often through the whole run (results file). */
const TRACE_MS = 5000;
/** The idle CPU is the server's CPU time over this interval with every poll held and nothing sent. */
const IDLE_CPU_MS = 10_000;
/** PROTOCOL.md: a send names at most 10,000 clients. */
const BATCH = 10_000;
/** The group form: this many of the first clients join GROUP, which gets one publish. */
const GROUP_MEMBERS = 100_000;
const GROUP = 'bench.million';
/** Single send lines in flight (--window overrides). */
const DEFAULT_WINDOW = 1000;
/** Deliveries are over when every client got its message, or none has arrived for this long. */
const STALL_MS = 10_000;
/**
 * The sender waits this long for a reply before it gives up (loadgen --stall-seconds): in the
 * 1-vCPU VM one 10,000-id line takes seconds of the server's CPU, and the lines of a round queue.
 */
function senderStallSeconds(clients: number): number {
  return Math.max(60, Math.ceil(clients / 5000));
}
const MIB = 1048576;

interface DeliveryPhase {
  label: string;
  /** The sequence number every client must be at afterwards (its messages so far). */
  expectedSeq: number;
  sender: JsonObject;
  accepted: number;
  refused: number;
  unique: number;
  duplicated: number;
  gaps: number;
  lost: number;
  /** Clients whose last sequence number is below expectedSeq afterwards. */
  missing: number;
  /** From the sender's first write to the last message received by any client; null if none arrived. */
  seconds: number | null;
  after: PollerSnapshot;
  serverCpuSeconds: number;
  heldAgainSeconds: number;
}

/**
 * Sends one message to each of `clients` (sender flags in `senderArgs`) while the pollers stay
 * connected, waits for the deliveries, and reads the pollers' snapshot: the counts since `before`
 * and the latency of this phase alone. Then waits until every poll is held again.
 */
async function deliverToAll(ctx: ScenarioContext, server: RunningServer, fleet: PollerFleet, trace: MemoryTrace, clients: number, held: number, label: string, expectedSeq: number, senderArgs: string[]): Promise<DeliveryPhase> {
  // Snapshots take whole generator processes: a phase for the first `clients` only (the group
  // form: 100,000 of 250,000 in a process) reads the processes that hold them. Only those
  // clients get a message, so the counts stay theirs; the sequence spread does not.
  const scope = fleet.coveringCount(0, clients);
  const before = await fleet.snapshot(0, scope);
  const cpuBefore = server.cpuSeconds();
  const sender = startLoadgen(ctx.loadgen, [
    'send', '--app-host', server.host, '--app-port', String(server.appPort), '--clients', String(clients),
    '--first-seq', String(expectedSeq - 1), '--stall-seconds', String(senderStallSeconds(clients)),
    '--max-seconds', String(Math.max(1, Math.floor(ctx.remainingSeconds() - 10))), ...senderArgs,
  ], `send ${label}`, ctx.registry);
  const uniqueSoFar = (): number => fleet.sum('received') - fleet.sum('duplicated') - (before.received - before.duplicated);
  ctx.progress.watch(() => {
    const s = sender.progress();
    return `${ctx.target} million ${label}: sent ${s['sent'] ?? 0} lines, ${s['ok'] ?? 0} accepted, ${s['refused'] ?? 0} refused, ${uniqueSoFar()}/${clients} delivered; ${trace.describe()}`;
  });
  const sent = await sender.result;
  const accepted = numberField(sent, 'deliveries_ok', 'send result');
  let last = -1;
  let lastChange = Date.now();
  await waitUntil(`${label} deliveries`, () => {
    if (server.hasExited()) throw new Error(`${ctx.target} exited during ${label}`);
    const unique = uniqueSoFar();
    if (unique !== last) {
      last = unique;
      lastChange = Date.now();
    }
    // Every client, not just what the sender saw accepted: a sender that gave up on its replies
    // leaves lines the server may still deliver.
    return unique >= Math.max(accepted, clients) || Date.now() - lastChange > STALL_MS;
  }, Math.max(1000, Math.min(Math.max(60, clients / 1000), ctx.remainingSeconds() - 5) * 1000), 100);
  await sleep(500);  // late duplicates would show in the snapshot
  const after = await fleet.snapshot(0, scope);
  const serverCpuSeconds = server.cpuSeconds() - cpuBefore;
  const unique = after.received - after.duplicated - (before.received - before.duplicated);
  const firstWrite = numberField(sent, 'first_write_ns', 'send result');
  const heldAgain = await waitForHeldPolls(ctx, server, fleet, held, `million ${label}: polls held again`);
  return {
    label,
    expectedSeq,
    sender: sent,
    accepted,
    refused: numberField(sent, 'deliveries_refused', 'send result'),
    unique,
    duplicated: after.duplicated - before.duplicated,
    gaps: after.gaps - before.gaps,
    lost: Math.max(0, accepted - unique),
    missing: scope === clients ? (after.seqMin < expectedSeq ? after.seqMinClients : 0) : Math.max(0, clients - (after.received - after.duplicated - (before.received - before.duplicated))),
    seconds: after.lastReceiveNs > firstWrite && unique > 0 ? (after.lastReceiveNs - firstWrite) / 1e9 : null,
    after,
    serverCpuSeconds,
    heldAgainSeconds: heldAgain.seconds,
  };
}

function phaseFigures(p: DeliveryPhase, name: string): Figure[] {
  const l = p.after.latency.summaryMs();
  return [
    { name: `${name}: seconds to deliver to all`, unit: 's', better: 'lower', value: p.seconds },
    { name: `${name}: delivered msgs/s`, unit: 'msg/s', better: 'higher', value: p.seconds === null ? null : p.unique / p.seconds },
    { name: `${name}: delivered`, unit: 'msgs', better: 'higher', value: p.unique },
    { name: `${name}: lost`, unit: 'msgs', better: 'lower', value: p.lost, target: '0' },
    { name: `${name}: duplicated`, unit: 'msgs', better: 'lower', value: p.duplicated, target: '0' },
    { name: `${name}: clients without their message`, unit: 'clients', better: 'lower', value: p.missing, target: '0' },
    { name: `${name}: latency p50`, unit: 'ms', better: 'lower', value: l.p50 },
    { name: `${name}: latency p99`, unit: 'ms', better: 'lower', value: l.p99 },
  ];
}

function phaseDetails(p: DeliveryPhase): JsonObject {
  return {
    expected_seq: p.expectedSeq,
    accepted: p.accepted,
    refused: p.refused,
    delivered_once: p.unique,
    duplicated: p.duplicated,
    gaps: p.gaps,
    lost: p.lost,
    clients_without_their_message: p.missing,
    seq_min: p.after.seqMin,
    seq_min_clients: p.after.seqMinClients,
    seq_max: p.after.seqMax,
    seconds: p.seconds,
    latency_ms: { ...p.after.latency.summaryMs() },
    server_cpu_seconds: p.serverCpuSeconds,
    server_cpu_us_per_delivery: p.unique > 0 ? (p.serverCpuSeconds * 1e6) / p.unique : null,
    seconds_until_polls_held_again: p.heldAgainSeconds,
    sender: { ...p.sender, ack_latency: undefined },
  };
}

async function settled(server: RunningServer): Promise<{ reading: MemoryReading; rssSeries: number[] }> {
  await sleep(SETTLE_MS);
  const s = await readSettled(server.pid, SAMPLES, SAMPLE_INTERVAL_MS);
  return { reading: s.median, rssSeries: s.rssSeries };
}

export const million: Scenario = {
  name: 'million',
  // Longer than any run: no poll is answered by its timeout, only by the messages.
  unsupported: { nchan: "it needs the VM and MegaComet's stats" },
  pollTimeout: 86_400,
  // No message expires while the run lasts, and each client's queue holds its two messages
  // (each acknowledged by the client's next poll) with room to spare.
  ttl: 3600,
  maxQueue: 8,
  description: 'hold --connections polls (1,000,000; needs the VM): bytes per held poll, kernel bytes, idle CPU; one message to every client as single sends and as 10,000-id batches (time, lost/dup, p50/p99); SIGTERM shutdown time',
  async run(ctx) {
    const clients = ctx.options.connections?.[0] ?? 1_000_000;
    const fileLimit = Number(describeMachine().fileLimit);
    if (Number.isFinite(fileLimit) && clients + SERVER_FILES > fileLimit) {
      throw new Error(`${clients} held polls need about ${clients + SERVER_FILES} open files in the server, above this machine's limit of ${fileLimit}: ` +
        `run it in the VM (docs/BENCHMARKS.md, "The million scenario") or use --connections ${Math.max(1, fileLimit - SERVER_FILES - WARM_POLLS)} or less`);
    }
    const warm = Number.isFinite(fileLimit) ? Math.max(0, Math.min(WARM_POLLS, fileLimit - clients - SERVER_FILES)) : WARM_POLLS;
    const held = clients + warm;
    const sizing = sizeGenerators(ctx.options, clients, fileLimit);
    const window = ctx.options.window ?? DEFAULT_WINDOW;
    const batch = Math.min(clients, BATCH);
    // Paced sends keep the backlog of accepted-but-undelivered messages (and the heap it grows) small.
    const pace = ctx.options.rate === null || ctx.options.rate === 0 ? [] : ['--rate', String(ctx.options.rate)];

    const server = await startServer(ctx.repoRoot, ctx.target, settingsOf(million, ctx.options.threads), ctx.registry);
    const readyAt = Date.now();
    const atStart = readMemory(server.pid);
    const trace = new MemoryTrace(server.pid, TRACE_MS);
    const fleet = new PollerFleet({
      loadgen: ctx.loadgen, host: server.host, port: server.port, perProcess: sizing.perProcess,
      connectRate: sizing.connectRate, maxSeconds: ctx.remainingSeconds(), registry: ctx.registry, protocol: server.protocol,
    });
    // A process holding a quarter of a million sockets takes a while to close them at exit.
    const generatorGraceMs = Math.max(10_000, sizing.perProcess * 0.2);
    // Filled step by step: a failure late in an hour-long run keeps what was measured before it.
    // Each figure is also printed as soon as it is known, so even a run killed from outside
    // (the VM's process, the hard limit) leaves them in its log.
    const figures: Figure[] = [];
    const record = (...measured: Figure[]): void => {
      for (const f of measured) {
        figures.push(f);
        ctx.progress.print(`${ctx.target} million: ${f.name} = ${f.value === null ? 'n/a' : formatNumber(f.value)} ${f.unit}`);
      }
    };
    const memory: JsonObject = { at_start: { ...atStart } };
    const details: JsonObject = {
      clients,
      warm_polls: warm,
      held_polls: held,
      generators: { ...sizing },
      file_limit: Number.isFinite(fileLimit) ? fileLimit : null,
      window,
      batch,
      send_rate: ctx.options.rate,
      memory,
      memory_trace_ms_rss_available_slab_tcp: trace.samples,
    };
    try {
      // Warm-up: clients after the measured ones, held from the start to the end.
      if (warm > 0) fleet.add(clients, warm);
      await waitForHeldPolls(ctx, server, fleet, warm, `million warm-up (${warm} polls)`);
      ctx.progress.watch(() => `${ctx.target} million: ${warm} warm-up polls held, waiting for the start-up shrinking to pass`);
      const warmTrace = await traceRssUntil(server.pid, readyAt, readyAt + STARTUP_QUIET_MS, 1000);
      const base = await readSettled(server.pid, SAMPLES, SAMPLE_INTERVAL_MS);
      const atWarm = base.median;
      Object.assign(memory, { at_warm: { ...atWarm }, at_warm_rss_series: base.rssSeries, warm_rss_trace_ms_bytes: warmTrace });

      // Every client, paced; done when the generators and the server's stats agree.
      fleet.add(0, clients);
      details['generators'] = { ...sizing, processes_with_warm_up: fleet.processCount };
      const connect = await waitForHeldPolls(ctx, server, fleet, held, `million connect (${sizing.processes} generator processes, ${sizing.connectRate} connects/s each)`);
      details['connect'] = { ...connect };
      ctx.progress.watch(() => `${ctx.target} million: ${held} polls held, reading memory`);
      const atFull = await settled(server);
      const userFromWarm = (atFull.reading.rss - atWarm.rss) / clients;
      const userFromStart = (atFull.reading.rss - atStart.rss) / clients;
      const kernel = (atFull.reading.slab - atWarm.slab) / clients;
      record(
        { name: `user bytes per held poll @${clients} (from warm)`, unit: 'B', better: 'lower', value: userFromWarm, target: '<= 128 (at 1M)' },
        { name: `user bytes per held poll @${clients} (from start)`, unit: 'B', better: 'lower', value: userFromStart },
        { name: `kernel bytes per connection @${clients}`, unit: 'B', better: 'lower', value: kernel },
        { name: `server RSS @${clients}`, unit: 'MiB', better: 'lower', value: atFull.reading.rss / MIB },
        { name: `seconds to connect ${clients} polls`, unit: 's', better: 'lower', value: connect.seconds },
      );
      Object.assign(memory, {
        at_full: { ...atFull.reading },
        at_full_rss_series: atFull.rssSeries,
        user_bytes_per_poll_from_warm: userFromWarm,
        user_bytes_per_poll_from_start: userFromStart,
        anon_bytes_per_poll_from_warm: (atFull.reading.anon - atWarm.anon) / clients,
        file_bytes_per_poll_from_warm: (atFull.reading.file - atWarm.file) / clients,
        kernel_slab_bytes_per_connection: kernel,
        kernel_slab_bytes_per_connection_from_start: (atFull.reading.slab - atStart.slab) / clients,
        tcp_sockets_added: atFull.reading.tcpInUse - atWarm.tcpInUse,
        tcp_buffer_bytes_at_full: atFull.reading.tcpMem,
        note: 'user bytes = VmRSS growth / clients, from the warm baseline (warm_polls held, read 19 s after start) and from the reading right after the ready line; kernel bytes = Slab growth of the whole machine / clients (both ends of each loopback connection, the generators\' epoll items, anything else that ran)',
      });

      // Idle: nothing is sent; the server should sleep.
      ctx.progress.watch(() => `${ctx.target} million: measuring idle CPU with ${held} polls held`);
      const idleReceivedBefore = fleet.sum('received');
      const idleCpuBefore = server.cpuSeconds();
      const idleStarted = Date.now();
      await sleep(IDLE_CPU_MS);
      const idleCpu = server.cpuSeconds() - idleCpuBefore;
      const idleSeconds = (Date.now() - idleStarted) / 1000;
      record({ name: 'idle server CPU, all polls held', unit: '% core', better: 'lower', value: (idleCpu / idleSeconds) * 100, target: '< 2' });
      details['idle'] = { seconds: idleSeconds, server_cpu_seconds: idleCpu, messages_received: fleet.sum('received') - idleReceivedBefore };
      memory['after_idle'] = { ...readMemory(server.pid) };

      // Each form sends every client one message; the sequence number counts the forms run.
      const forms = ctx.options.forms;
      let expectedSeq = 1;
      if (forms.includes('single')) {
        const singles = await deliverToAll(ctx, server, fleet, trace, clients, held, 'single sends', expectedSeq++,
          ['--messages', String(clients), '--order', 'sequential', '--window', String(window), ...pace]);
        record(...phaseFigures(singles, 'single sends'));
        details['single_sends'] = phaseDetails(singles);
        memory['after_single_sends'] = { ...readMemory(server.pid) };
      }
      if (forms.includes('batched')) {
        const batches = await deliverToAll(ctx, server, fleet, trace, clients, held, `batched sends (${batch} ids per line)`, expectedSeq++,
          ['--messages', '1', '--fanout', String(batch), ...pace]);
        record(...phaseFigures(batches, 'batched sends'));
        details['batched_sends'] = phaseDetails(batches);
      }
      // Only MegaComet has groups.
      if (forms.includes('group') && ctx.target === 'megacomet') {
        // One publish to a group of the first GROUP_MEMBERS clients (issue 12's 100,000-member group).
        const members = Math.min(clients, GROUP_MEMBERS);
        ctx.progress.watch(() => `${ctx.target} million: joining ${members} clients to ${GROUP}`);
        const joinStarted = performance.now();
        for (let first = 0; first < members; first += BATCH) {
          const ids = Array.from({ length: Math.min(BATCH, members - first) }, (_, i) => `c${first + i}`);
          const reply = await appRequest(server.host, server.appPort, { op: 'join', clients: ids, group: GROUP }, 120_000);
          if (reply['ok'] !== true) throw new Error(`million: join refused: ${JSON.stringify(reply)}`);
        }
        const joinSeconds = (performance.now() - joinStarted) / 1000;
        const memoryBeforePublish = readMemory(server.pid);
        const published = await deliverToAll(ctx, server, fleet, trace, members, held, `one publish to a group of ${members}`, expectedSeq++,
          ['--messages', '1', '--publish', GROUP]);
        record(...phaseFigures(published, `publish to ${members} members`));
        details['group_publish'] = { members, join_seconds: joinSeconds, memory_before_publish: { ...memoryBeforePublish }, ...phaseDetails(published) };
      }
      const afterDeliveries = readMemory(server.pid);
      memory['after_deliveries'] = { ...afterDeliveries };
      record({ name: 'server RSS after the deliveries', unit: 'MiB', better: 'lower', value: afterDeliveries.rss / MIB });

      // Shutdown: every held poll must be answered, then the process must exit.
      const beforeStop = await fleet.snapshot();
      const stopStarted = Date.now();
      // As long as the server's own safety net (src/server.ts: 32 s + 1 ms per held poll), plus a
      // margin: the guest answers ~1,300 held polls a second at shutdown, so 1M takes ~13 min there.
      const graceMs = Math.max(30_000, Math.min(held + 60_000, (ctx.remainingSeconds() - 30) * 1000));
      ctx.progress.watch(() => `${ctx.target} million: SIGTERM sent ${((Date.now() - stopStarted) / 1000).toFixed(0)} s ago, ${fleet.sum('responses') - beforeStop.responses} polls answered`);
      const exit = await server.stop(graceMs);
      const shutdownSeconds = (Date.now() - stopStarted) / 1000;
      const serverLog = server.stderrTail().slice(-2000);
      // Each held poll ends in its client as an answer or as the connection closing under it;
      // the generators read those from their sockets at their own pace (minutes for a million
      // in the VM): wait until they have seen one or the other for every held poll.
      const closedUnder = (x: PollerSnapshot): number => x.errors['server_closed'] ?? 0;
      let afterStop = await fleet.snapshot();
      let seen = -1;
      let seenChanged = Date.now();
      const settleUntil = Date.now() + Math.max(10, Math.min(Math.max(60, held / 2000), ctx.remainingSeconds() - 20)) * 1000;
      for (;;) {
        const ended = afterStop.responses - beforeStop.responses + closedUnder(afterStop) - closedUnder(beforeStop);
        if (ended >= held || Date.now() > settleUntil || Date.now() - seenChanged > STALL_MS) break;
        if (ended !== seen) {
          seen = ended;
          seenChanged = Date.now();
        }
        ctx.progress.watch(() => `${ctx.target} million: server exited after ${shutdownSeconds.toFixed(1)} s; clients have seen ${ended}/${held} polls end`);
        await sleep(2000);
        afterStop = await fleet.snapshot();
      }
      const answered = afterStop.responses - beforeStop.responses;
      // Not the closes themselves: a server that answers with keep-alive (the baseline) gets a
      // new poll on each connection, which its exit then closes.
      const closes = closedUnder(afterStop) - closedUnder(beforeStop);
      const closedUnanswered = Math.max(0, held - answered);
      const killed = exit.signal === 'SIGKILL';
      record(
        { name: 'shutdown seconds (SIGTERM to exit)', unit: 's', better: 'lower', value: killed ? null : shutdownSeconds },
        { name: 'held polls answered at shutdown', unit: 'polls', better: 'higher', value: answered, target: `${held}` },
        { name: 'held polls closed unanswered at shutdown', unit: 'polls', better: 'lower', value: closedUnanswered, target: '0' },
      );
      details['shutdown'] = {
        seconds: shutdownSeconds,
        exit_code: exit.code,
        exit_signal: exit.signal,
        killed_after_grace: killed,
        grace_ms: graceMs,
        held_polls_answered: answered,
        held_polls_closed_unanswered: closedUnanswered,
        polls_closed_under_clients: closes,
        held_polls: held,
        server_log_tail: serverLog,
        client_errors_during_shutdown: errorTotal(afterStop.errors) - errorTotal(beforeStop.errors),
      };
      const pollers = await fleet.finish(generatorGraceMs);
      details['poller_errors'] = pollers.errors;
      details['poller_cpu_seconds'] = pollers.cpuSeconds;
      return { figures, details };
    } catch (e) {
      let message = e instanceof Error ? e.message : String(e);
      if (server.hasExited() && details['shutdown'] === undefined) message += `; the server's ${await server.exitReport()}`;
      details['last_memory'] = trace.latest === null ? null : { ...trace.latest };
      if (figures.length === 0) throw new Error(message);
      return { figures, details, error: message };
    } finally {
      trace.stop();
      await fleet.finish(generatorGraceMs).catch(() => undefined);
      await server.stop();
    }
  },
};
