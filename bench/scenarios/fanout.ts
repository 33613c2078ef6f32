// (e) Fan-out: each round is one `send` with "clients":[...] naming every polling client (5000),
// 20 rounds, 2 lines in flight: deliveries per second and their latency.
import { runDelivery, outcomeDetails } from './delivery-run.js';
import { deliveryFigures } from './delivery-figures.js';
import type { Scenario } from './scenario.js';

export const fanout: Scenario = {
  name: 'fanout',
  unsupported: { nchan: "Nchan has no one-request fan-out to a list of clients (one POST per channel)" },
  pollTimeout: 120,
  description: '5000 polling clients; 20 rounds of one send to all of them ("clients":[...]): deliveries/s, latency',
  async run(ctx) {
    const clients = ctx.options.connections?.[0] ?? 5000;
    const rounds = ctx.options.messages ?? 20;
    const rate = ctx.options.rate ?? 0;
    const window = ctx.options.window ?? 2;
    // A send names at most 10,000 clients (PROTOCOL.md): more clients take several lines per round.
    const group = Math.min(clients, 10_000);
    const o = await runDelivery(ctx, {
      label: 'fanout',
      clients,
      pollTimeout: fanout.pollTimeout,
      senderArgs: ['--messages', String(rounds), '--fanout', String(group), '--rate', String(rate), '--window', String(window)],
    });
    return {
      figures: deliveryFigures(o, 'delivered msgs/s'),
      details: { clients, rounds, group, rate, window, ...outcomeDetails(o) },
    };
  },
};
