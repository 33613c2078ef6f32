// (c) Latency at fixed rates: 10k polling clients, messages to random clients at 20k, 5k and
// 100 msgs/s (--rate R1,R2,...), 8 s each, each rate on a fresh server. The sender is paced by
// its clock, not by replies; each message carries the time it was due, so a sender held back
// by a slow server counts that wait. Before each rate, an unmeasured warm-up of 5,000 messages.
import type { JsonObject } from '../lib/json-fields.js';
import { runDelivery, outcomeDetails } from './delivery-run.js';
import { WAKEUPS_FIGURE, deliveryFigures } from './delivery-figures.js';
import type { Figure, Scenario } from './scenario.js';
import { type WakeCost, wakeCostAt } from '../lib/wake-cost.js';

export const DEFAULT_RATES: readonly number[] = [20_000, 5000, 100];

/**
 * The unmeasured warm-up before each rate: WARMUP_MESSAGES at the rate or WARMUP_MIN_RATE,
 * whichever is faster (a production server has long run its hot paths through the JIT; 100
 * msgs/s for 8 s is 800 messages, too few to bill it to).
 */
const WARMUP_MESSAGES = 5000;
const WARMUP_MIN_RATE = 2500;

/** The figure names of one rate: "20000/s: latency p99". */
export function rateFigureName(rate: number, name: string): string {
  return `${rate}/s: ${name}`;
}

export const latency: Scenario = {
  name: 'latency',
  pollTimeout: 120,
  description: '10k polling clients; messages to random clients at fixed rates (20k, 5k and 100 msgs/s; --duration, 8 s, each) on a fresh server per rate: latency percentiles, CPU and wake-ups per message at each rate',
  async run(ctx) {
    const clients = ctx.options.connections?.[0] ?? 10_000;
    const rates = ctx.options.rates ?? DEFAULT_RATES;
    const duration = ctx.options.duration ?? 8;
    const window = ctx.options.window ?? 1000;
    const figures: Figure[] = [];
    const details: JsonObject = { clients, duration, window, warmup_messages: WARMUP_MESSAGES, warmup_min_rate: WARMUP_MIN_RATE };
    for (const rate of rates) {
      const messages = Math.max(1, Math.round(rate * duration));
      // Measured with no server running, once per rate for every target of the run.
      const wake: WakeCost | null = await wakeCostAt(ctx.loadgen, rate, ctx.registry).catch((e: unknown) => {
        ctx.progress.print(`latency ${rate}/s: loadgen wakecost failed (${e instanceof Error ? e.message : String(e)}); no wake-up cost figures`);
        return null;
      });
      try {
        const o = await runDelivery(ctx, {
          label: `latency ${rate}/s`,
          clients,
          pollTimeout: latency.pollTimeout,
          // --duration ends the sending on time even when the server cannot keep up: the figures
          // then show the rate it reached and the latency of what it got.
          // Numbered after every warm-up message a client could have had, so its sequence goes on rising.
          senderArgs: ['--messages', String(messages), '--rate', String(rate), '--duration', String(duration), '--window', String(window), '--first-seq', String(WARMUP_MESSAGES)],
          warmupArgs: ['--messages', String(WARMUP_MESSAGES), '--rate', String(Math.max(rate, WARMUP_MIN_RATE)), '--window', String(window)],
        });
        const maxLag = Number(o.sender['max_lag_ns']) / 1e6;
        const achieved = Number(o.sender['achieved_rate']);
        const delivery = deliveryFigures(o, 'delivered msgs/s', undefined, rate >= 20_000 ? '<= 5' : rate <= 100 ? '< 1' : undefined);
        figures.push(
          ...[
            { name: 'achieved send rate', unit: 'msg/s', better: 'none', value: Number.isFinite(achieved) ? achieved : null } satisfies Figure,
            ...delivery,
            ...wakeCostFigures(wake, delivery),
            { name: 'sender lag max', unit: 'ms', better: 'lower', value: Number.isFinite(maxLag) ? maxLag : null } satisfies Figure,
          ].map((f) => ({ ...f, name: rateFigureName(rate, f.name) })),
        );
        details[`rate_${rate}`] = { rate, messages, ...outcomeDetails(o), ...(wake === null ? {} : { wake_cost: { ...wake } }) };
      } catch (e) {
        // The rates measured so far are kept; the run counts as failed.
        return { figures, details, error: `at ${rate}/s: ${e instanceof Error ? e.message : String(e)}` };
      }
    }
    return { figures, details };
  },
};

/**
 * The machine's price of one wake-up at this rate, and the server's wake-ups per message at that
 * price: the part of its CPU per message it pays before doing any work.
 */
function wakeCostFigures(wake: WakeCost | null, delivery: readonly Figure[]): Figure[] {
  const wakeups = delivery.find((f) => f.name === WAKEUPS_FIGURE)?.value ?? null;
  return [
    { name: 'wake-up cost on this machine', unit: 'us', better: 'none', value: wake?.cpuUsPerWakeup ?? null },
    { name: 'CPU/msg in wake-ups (wake-ups x cost)', unit: 'us', better: 'lower', value: wake === null || wakeups === null ? null : wakeups * wake.cpuUsPerWakeup },
  ];
}
