// Broadcast (issue 12): 10,000 polling clients in one group, 20 rounds of one `publish` to it:
// deliveries per second, latency from the publish to each delivery, lost and duplicated.
// Nchan's peer of a group is a channel every client subscribes to, one POST per round; the
// baseline has neither and does what an app without them must, one `send` with
// "clients":[...] naming all 10,000 per round (PROTOCOL.md allows 10,000 ids per line).
import { appRequest } from '../lib/app-client.js';
import { numberField } from '../lib/json-fields.js';
import { deliveryFigures } from './delivery-figures.js';
import { outcomeDetails, runDelivery } from './delivery-run.js';
import type { Scenario } from './scenario.js';

const GROUP = 'bench.broadcast';
/** Ids one join line may name (PROTOCOL.md). */
const JOIN_LINE = 10_000;

export const broadcast: Scenario = {
  name: 'broadcast',
  pollTimeout: 120,
  description: '10000 polling clients in one group; 20 rounds of one publish to it (baseline: one send to all 10000): deliveries/s, latency',
  async run(ctx) {
    const clients = ctx.options.connections?.[0] ?? 10_000;
    const rounds = ctx.options.messages ?? 20;
    const rate = ctx.options.rate ?? 0;
    const window = ctx.options.window ?? 2;
    const groups = ctx.target === 'megacomet' || ctx.target === 'megacomet-t8';
    const channel = ctx.target === 'nchan';
    let joinMs = 0;
    const o = await runDelivery(ctx, {
      label: 'broadcast',
      clients,
      pollTimeout: broadcast.pollTimeout,
      senderArgs: ['--messages', String(rounds), '--rate', String(rate), '--window', String(window), ...(groups || channel ? ['--publish', GROUP] : ['--fanout', String(Math.min(clients, JOIN_LINE))])],
      ...(channel ? { channel: GROUP } : {}),
      prepare: groups
        ? async (server) => {
            const t0 = performance.now();
            // The load generator's pollers are c0 .. c<clients-1> (bench/loadgen, --prefix c).
            for (let first = 0; first < clients; first += JOIN_LINE) {
              const ids = Array.from({ length: Math.min(JOIN_LINE, clients - first) }, (_, i) => `c${first + i}`);
              const reply = await appRequest(server.host, server.appPort, { op: 'join', clients: ids, group: GROUP }, 30_000);
              if (reply['ok'] !== true) throw new Error(`join refused: ${JSON.stringify(reply)}`);
            }
            joinMs = performance.now() - t0;
            const info = await appRequest(server.host, server.appPort, { op: 'group', group: GROUP });
            const members = numberField(info, 'members', 'group reply');
            if (members !== clients) throw new Error(`the group has ${members} members, expected ${clients}`);
          }
        : undefined,
    });
    return {
      figures: deliveryFigures(o, 'delivered msgs/s'),
      details: { clients, rounds, rate, window, form: groups ? 'publish to a group' : channel ? 'publish to one channel all clients subscribe to' : 'send with clients (no groups)', join_ms: joinMs, ...outcomeDetails(o) },
    };
  },
};
