// (d) Churn: connections opened, polled once and closed, 2000 per second for 5 s. The server runs
// with --poll-timeout 1, so each poll is answered by its timeout and then closed by the client.
import { type JsonObject, numberField, objectField } from '../lib/json-fields.js';
import { Histogram } from '../lib/histogram.js';
import { type LoadgenProcess, startLoadgen } from '../lib/loadgen-process.js';
import { errorTotal } from '../lib/poller-fleet.js';
import { startServer } from '../lib/server-process.js';
import { nextSourceFlags } from '../lib/source-addresses.js';
import { sleep } from '../lib/wait.js';
import type { Scenario } from './scenario.js';
import { settingsFor } from './server-settings.js';

const POLL_TIMEOUT = 1;

export const churn: Scenario = {
  name: 'churn',
  unsupported: { nchan: "the churn generator speaks MegaComet's poll only" },
  pollTimeout: POLL_TIMEOUT,
  description: 'connections opened, polled once (answered by a 1 s poll timeout) and closed, 2000/s for 5 s',
  async run(ctx) {
    const rate = ctx.options.rate ?? 2000;
    const duration = ctx.options.duration ?? 5;
    // Each cycle lives about one poll timeout; room for a coarse timer doubling that, within the
    // generator's file limit.
    const concurrency = Math.min(15_000, Math.ceil(rate * (POLL_TIMEOUT * 3 + 1)));
    const server = await startServer(ctx.repoRoot, ctx.target, settingsFor(ctx, POLL_TIMEOUT), ctx.registry);
    let generator: LoadgenProcess | null = null;
    try {
      await sleep(1000);
      const rssBefore = server.rss();
      const cpuBefore = server.cpuSeconds();
      const churner = startLoadgen(ctx.loadgen, [
        'churn', '--host', server.host, '--port', String(server.port), '--rate', String(rate), '--duration', String(duration),
        '--concurrency', String(concurrency), '--max-seconds', String(Math.max(1, Math.floor(ctx.remainingSeconds() - 10))), ...nextSourceFlags(),
      ], 'churn', ctx.registry);
      generator = churner;
      ctx.progress.watch(() => {
        const p = churner.progress();
        return `${ctx.target} churn: started ${p['started'] ?? 0}, answered ${p['answered'] ?? 0}, failed ${p['failed'] ?? 0}, open ${p['open'] ?? 0}`;
      });
      const result = await churner.result;
      await sleep(2000);  // let the server notice the last closes
      if (server.hasExited()) throw new Error(`${ctx.target} exited during churn: ${server.stderrTail()}`);
      const rssAfter = server.rss();
      const cpuSeconds = server.cpuSeconds() - cpuBefore;
      let connectionsLeft: number | null = null;
      try {
        connectionsLeft = (await server.stats()).connections;
      } catch {
        // Stats are optional here: the figure is then missing.
      }
      const where = 'churn result';
      const answered = numberField(result, 'answered', where);
      const failures = objectField(result, 'failures', where);
      const failed = errorTotal(Object.fromEntries(Object.entries(failures).filter((e): e is [string, number] => typeof e[1] === 'number')));
      const connect = new Histogram();
      connect.addJson(objectField(result, 'connect_latency', where), where);
      const answer = new Histogram();
      answer.addJson(objectField(result, 'answer_latency', where), where);
      const c = connect.summaryMs();
      return {
        figures: [
          { name: 'completed cycles/s', unit: 'conn/s', better: 'higher', value: answered / duration },
          { name: 'failed cycles', unit: 'conns', better: 'lower', value: failed, target: '0' },
          { name: 'connect p50', unit: 'ms', better: 'lower', value: c.p50 },
          { name: 'connect p99', unit: 'ms', better: 'lower', value: c.p99 },
          { name: 'server CPU per cycle', unit: 'us', better: 'lower', value: answered > 0 ? (cpuSeconds * 1e6) / answered : null },
          { name: 'RSS growth after churn', unit: 'MiB', better: 'lower', value: (rssAfter - rssBefore) / 1048576 },
          { name: 'connections left open', unit: 'conns', better: 'lower', value: connectionsLeft, target: '0' },
        ],
        details: {
          rate, duration, concurrency, poll_timeout: POLL_TIMEOUT, rss_before: rssBefore, rss_after: rssAfter, server_cpu_seconds: cpuSeconds,
          connections_left: connectionsLeft, connect_latency_ms: { ...c }, answer_latency_ms: { ...answer.summaryMs() },
          generator: { ...result, connect_latency: undefined, answer_latency: undefined } as JsonObject,
        },
      };
    } finally {
      await generator?.finish().catch(() => undefined);
      await server.stop();
    }
  },
};
