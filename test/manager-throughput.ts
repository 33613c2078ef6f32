// The steady state of many live subscribers, round after round, single thread,
// fake links (routing, queueing and building the body, not the ring): a send
// answers the client's held poll, then its next poll acknowledges the message
// and is held again. Every send must be delivered and nothing may pile up.
// Bounded: at most ROUNDS rounds or LIMIT_MS. The rate is printed, not
// asserted: speed is for the benchmarks (docs/BENCHMARKS.md), and a floor on a
// shared machine is a flake.
import t from 'tap';
import { Manager } from '../src/manager/manager.js';

const ROUNDS = 500_000;
const LIMIT_MS = 3000;
const SUBSCRIBERS = 10_000;

t.test('sends to held polls, each followed by the acknowledging poll, stay in step over many rounds', async (t) => {
  let bodies = 0;
  const links = [0, 1].map(() => ({
    deliver(_handle: number, body: string): void {
      bodies += body.length > 0 ? 1 : 0;
    },
    release(): void {},
  }));
  const manager = new Manager({ ttlMs: 60_000, maxQueue: 1000 }, links);
  const clients = Array.from({ length: SUBSCRIBERS }, (_, i) => `user:${i}`);
  clients.forEach((client, i) => manager.onPoll(i & 1, i, client, 0));
  const data = '{"type":"chat","text":"hello there","from":"user:42"}';

  const start = performance.now();
  let rounds = 0;
  while (rounds < ROUNDS && (rounds & 1023 || performance.now() - start < LIMIT_MS)) {
    const i = rounds % SUBSCRIBERS;
    const client = clients[i]!;
    const result = manager.send(client, data);
    if (!result.ok) throw new Error(`${result.code} for ${result.client}`);
    manager.onPoll(i & 1, rounds, client, result.id);
    rounds++;
  }
  const seconds = (performance.now() - start) / 1000;
  const perSecond = rounds / seconds;
  t.comment(`send to a held poll + re-poll: ${Math.round(perSecond)} rounds/s (${((seconds * 1e6) / rounds).toFixed(2)} us each, ${rounds} rounds)`);
  t.equal(bodies, rounds, 'every send was delivered');
  t.match(manager.stats(), { held_polls: SUBSCRIBERS, queued: 0, sent: rounds, delivered: rounds });
});
