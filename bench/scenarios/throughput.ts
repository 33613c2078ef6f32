// (b) Throughput: 10k polling clients, 200k messages to random clients, sent as fast as the
// server acknowledges them (a window of 1000 lines in flight).
import { runDelivery, outcomeDetails } from './delivery-run.js';
import { deliveryFigures } from './delivery-figures.js';
import type { Scenario } from './scenario.js';

export const throughput: Scenario = {
  name: 'throughput',
  pollTimeout: 120,
  description: '10k polling clients; 200k messages to random clients as fast as acknowledged: delivered msgs/s, latency, loss',
  async run(ctx) {
    const clients = ctx.options.connections?.[0] ?? 10_000;
    const messages = ctx.options.messages ?? 200_000;
    const window = ctx.options.window ?? 1000;
    const o = await runDelivery(ctx, {
      label: 'throughput',
      clients,
      pollTimeout: throughput.pollTimeout,
      senderArgs: ['--messages', String(messages), '--window', String(window)],
    });
    const firstWrite = Number(o.sender['first_write_ns']);
    const lastAck = Number(o.sender['last_ack_ns']);
    return {
      figures: [
        ...deliveryFigures(o, 'delivered msgs/s', '>= 55000 (--threads 2)'),
        { name: 'acknowledged sends/s', unit: 'msg/s', better: 'higher', value: lastAck > firstWrite ? o.deliveriesOk / ((lastAck - firstWrite) / 1e9) : null },
      ],
      details: { clients, messages, window, ...outcomeDetails(o) },
    };
  },
};
