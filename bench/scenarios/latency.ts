// (c) Latency at a fixed rate: 10k polling clients, 20k msgs/s to random clients for 8 s. Each
// message carries the time it was due, so a sender held back by a slow server counts that wait.
import { runDelivery, outcomeDetails } from './delivery-run.js';
import { deliveryFigures } from './delivery-figures.js';
import type { Scenario } from './scenario.js';

export const latency: Scenario = {
  name: 'latency',
  pollTimeout: 120,
  description: '10k polling clients; a fixed 20k msgs/s to random clients for 8 s: latency percentiles at that rate',
  async run(ctx) {
    const clients = ctx.options.connections?.[0] ?? 10_000;
    const rate = ctx.options.rate ?? 20_000;
    const duration = ctx.options.duration ?? 8;
    const window = ctx.options.window ?? 1000;
    const messages = Math.round(rate * duration);
    const o = await runDelivery(ctx, {
      label: 'latency',
      clients,
      pollTimeout: latency.pollTimeout,
      // --duration ends the sending on time even when the server cannot keep up: the figures
      // then show the rate it reached and the latency of what it got.
      senderArgs: ['--messages', String(messages), '--rate', String(rate), '--duration', String(duration), '--window', String(window)],
    });
    const maxLag = Number(o.sender['max_lag_ns']) / 1e6;
    return {
      figures: [
        ...deliveryFigures(o, 'delivered msgs/s', undefined, '<= 5'),
        { name: 'sender lag max', unit: 'ms', better: 'lower', value: Number.isFinite(maxLag) ? maxLag : null },
      ],
      details: { clients, rate, duration, messages, window, ...outcomeDetails(o) },
    };
  },
};
