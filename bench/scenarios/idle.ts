// (a) Idle: hold 1k, then 5k, then 15k polls that nothing answers; the server's RSS and the
// kernel's socket memory per connection at each level.
import type { JsonObject } from '../lib/json-fields.js';
import { PollerFleet } from '../lib/poller-fleet.js';
import { startServer } from '../lib/server-process.js';
import { type KernelMemory, readKernelMemory } from '../lib/system-memory.js';
import { sleep } from '../lib/wait.js';
import { waitForHeldPolls } from './held-polls.js';
import type { Figure, Scenario } from './scenario.js';
import { settingsFor } from './server-settings.js';

/** After the polls are held, memory is read after SETTLE_MS and again SETTLE_MS later. */
const SETTLE_MS = 2000;

interface Sample extends KernelMemory {
  rss: number;
}

export const idle: Scenario = {
  name: 'idle',
  // Longer than the whole scenario: no poll is answered (and re-sent) while memory is read.
  pollTimeout: 600,
  description: 'hold 1k, 5k, 15k polls: server user-space bytes (RSS) and kernel bytes (Slab) per held poll',
  async run(ctx) {
    const levels = [...new Set(ctx.options.connections ?? [1000, 5000, 15_000])].sort((a, b) => a - b);
    const server = await startServer(ctx.repoRoot, ctx.target, settingsFor(ctx, idle.pollTimeout), ctx.registry);
    const fleet = new PollerFleet({
      loadgen: ctx.loadgen, host: server.host, port: server.port, perProcess: ctx.options.perProcess,
      connectRate: ctx.options.connectRate, maxSeconds: ctx.remainingSeconds(), registry: ctx.registry,
    });
    const sample = (): Sample => ({ rss: server.rss(), ...readKernelMemory() });
    try {
      await sleep(1000);
      const base = sample();
      const figures: Figure[] = [];
      const details: JsonObject[] = [];
      let previous = 0;
      for (const level of levels) {
        fleet.add(previous, level - previous);
        previous = level;
        const held = await waitForHeldPolls(ctx, server, fleet, level, `idle ${level}`);
        ctx.progress.watch(() => `${ctx.target} idle ${level}: ${level} polls held, letting memory settle`);
        await sleep(SETTLE_MS);
        const first = sample();
        await sleep(SETTLE_MS);
        const second = sample();
        if (server.hasExited()) throw new Error(`${ctx.target} exited while holding ${level} polls: ${server.stderrTail()}`);
        const perPoll = (s: Sample): number => (s.rss - base.rss) / level;
        const kernel = (s: Sample): number => (s.slab - base.slab) / level;
        figures.push(
          { name: `user bytes per held poll @${level}`, unit: 'B', better: 'lower', value: perPoll(second), target: '<= 256' },
          { name: `kernel bytes per connection @${level}`, unit: 'B', better: 'lower', value: kernel(second) },
          { name: `server RSS @${level}`, unit: 'MiB', better: 'lower', value: second.rss / 1048576 },
          { name: `seconds to hold ${level} polls`, unit: 's', better: 'lower', value: held.seconds },
        );
        details.push({
          level,
          held: { ...held },
          first: { ...first, user_bytes_per_poll: perPoll(first), kernel_bytes_per_connection: kernel(first) },
          second: { ...second, user_bytes_per_poll: perPoll(second), kernel_bytes_per_connection: kernel(second) },
          tcp_sockets_added: second.tcpInUse - base.tcpInUse,
          generator_processes: fleet.processCount,
        });
      }
      const pollers = await fleet.finish();
      return {
        figures,
        details: {
          levels,
          base: { ...base },
          samples: details,
          note: 'kernel bytes are the Slab growth of the whole machine divided by the connections: both ends of each loopback connection (client and server socket), and whatever else ran meanwhile',
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
