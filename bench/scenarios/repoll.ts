// (f) Re-poll churn: 15,000 clients against --poll-timeout 1, so every poll times out and its
// client renews it, each second, with nothing ever sent. The server's CPU per renewal (timeout
// answer + the next poll on the same connection), and what 1,000,000 clients at the default
// 25 s poll timeout (40,000 renewals/s) would cost in cores at that price.
import { DEFAULT_CONNECT_RATE, DEFAULT_PER_PROCESS } from '../lib/generator-sizing.js';
import { PollerFleet, errorTotal } from '../lib/poller-fleet.js';
import { startServer } from '../lib/server-process.js';
import { sleep, waitUntil } from '../lib/wait.js';
import type { Scenario } from './scenario.js';
import { settingsFor } from './server-settings.js';

const POLL_TIMEOUT = 1;
/** After every client is connected, time for the renewals to settle into their rhythm. */
const WARM_MS = 3000;
/** The measured interval. */
const MEASURE_MS = 10_000;
/** What the cores figure is projected to: PROTOCOL.md's default poll timeout and the project's size. */
const PROJECTED_CLIENTS = 1_000_000;
const DEFAULT_POLL_TIMEOUT = 25;

export const repoll: Scenario = {
  name: 'repoll',
  unsupported: { nchan: "it measures MegaComet's since= re-poll path" },
  pollTimeout: POLL_TIMEOUT,
  description: '15000 clients, --poll-timeout 1: every poll times out and is renewed each second; server CPU per renewal over 10 s, and the cores 1,000,000 clients at 25 s would need',
  async run(ctx) {
    const clients = ctx.options.connections?.[0] ?? 15_000;
    const server = await startServer(ctx.repoRoot, ctx.target, settingsFor(ctx, POLL_TIMEOUT), ctx.registry);
    const fleet = new PollerFleet({
      loadgen: ctx.loadgen, host: server.host, port: server.port, perProcess: ctx.options.perProcess ?? DEFAULT_PER_PROCESS,
      connectRate: ctx.options.connectRate ?? DEFAULT_CONNECT_RATE, maxSeconds: ctx.remainingSeconds(), registry: ctx.registry, protocol: server.protocol,
    });
    try {
      fleet.add(0, clients);
      // Held polls never all line up at one instant here (some are always between their timeout
      // answer and the renewal): every client connected is the mark.
      const t0 = Date.now();
      ctx.progress.watch(() => `${ctx.target} repoll: ${fleet.sum('connected')}/${clients} connected, ${fleet.sum('responses')} timeouts answered`);
      await waitUntil(`${clients} connected clients on ${ctx.target}`, () => {
        if (server.hasExited()) throw new Error(`${ctx.target} exited while clients connected: ${server.stderrTail()}`);
        return fleet.sum('connected') >= clients;
      }, Math.max(1000, Math.min(Math.max(60, clients / 500), ctx.remainingSeconds() - 5) * 1000), 250);
      const connectSeconds = (Date.now() - t0) / 1000;
      await sleep(WARM_MS);
      const before = await fleet.snapshot();
      const cpuBefore = server.cpuSeconds();
      const startedAt = Date.now();
      ctx.progress.watch(() => `${ctx.target} repoll: measuring, ${fleet.sum('responses') - before.responses} renewals so far`);
      await sleep(MEASURE_MS);
      const after = await fleet.snapshot();
      const cpuSeconds = server.cpuSeconds() - cpuBefore;
      const seconds = (Date.now() - startedAt) / 1000;
      if (server.hasExited()) throw new Error(`${ctx.target} exited during repoll: ${server.stderrTail()}`);
      const renewals = after.responses - before.responses;
      const messages = after.received - before.received;
      const errors = errorTotal(after.errors) - errorTotal(before.errors);
      const perRenewal = renewals > 0 ? cpuSeconds / renewals : null;
      const projectedRate = PROJECTED_CLIENTS / DEFAULT_POLL_TIMEOUT;
      const pollers = await fleet.finish();
      return {
        figures: [
          { name: 'renewals/s', unit: 'polls/s', better: 'none', value: renewals / seconds },
          { name: 'server CPU per renewed poll', unit: 'us', better: 'lower', value: perRenewal === null ? null : perRenewal * 1e6 },
          { name: 'server CPU at this rate', unit: 'cores', better: 'lower', value: cpuSeconds / seconds },
          { name: `cores for ${PROJECTED_CLIENTS.toLocaleString('en-US')} clients at ${DEFAULT_POLL_TIMEOUT} s poll timeout`, unit: 'cores', better: 'lower', value: perRenewal === null ? null : perRenewal * projectedRate },
          { name: 'client errors while measured', unit: 'errors', better: 'lower', value: errors, target: '0' },
        ],
        details: {
          clients,
          poll_timeout: POLL_TIMEOUT,
          connect_seconds: connectSeconds,
          warm_ms: WARM_MS,
          measured_seconds: seconds,
          renewals,
          empty_renewals: after.emptyResponses - before.emptyResponses,
          messages_received: messages,
          server_cpu_seconds: cpuSeconds,
          generator_cpu_seconds: after.cpuSeconds - before.cpuSeconds,
          projected_renewals_per_second: projectedRate,
          note: 'a renewal is one poll answered empty by the poll timeout plus the next poll the client sends on the same keep-alive connection; server CPU is user+system of every thread (/proc/PID/stat) over the measured interval, divided by the renewals; cores = that CPU x 1,000,000 / 25 s; the generators share the machine',
          poller_errors: pollers.errors,
        },
      };
    } finally {
      await fleet.finish().catch(() => undefined);
      await server.stop();
    }
  },
};
