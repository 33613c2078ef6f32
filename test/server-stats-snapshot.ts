// Every `stats` reply is one consistent snapshot (the protocol module's
// StatsReply): a thread never shows more held polls than connections, and the
// totals are the sums of the per-thread entries, while polls arrive, are held,
// answered and dropped on two threads. Before the rows were published as one
// snapshot, a reply right after polls arrived showed held_polls above
// connections (connections were published every 100 ms, held polls at once).
import t from 'tap';
import { AppConnection } from './helpers/app-client.js';
import { RawHttpConnection } from './helpers/http-client.js';
import { startServer } from './helpers/server.js';
import { mapLimit, waitFor } from './helpers/wait.js';

const ROUNDS = 8;
const POLLS_PER_ROUND = 40;

t.test('stats: every reply is consistent while polls come and go', async (t) => {
  const server = await startServer(t, ['--threads', '2']);
  const app = await AppConnection.open(server.appPort, t);
  const sender = await AppConnection.open(server.appPort, t);
  let replies = 0;
  const check = (s: Awaited<ReturnType<AppConnection['stats']>>): void => {
    replies++;
    const sum = (key: 'connections' | 'held_polls'): number => s.threads.reduce((n, th) => n + th[key], 0);
    if (sum('connections') !== s.connections || sum('held_polls') !== s.held_polls) {
      t.fail(`totals are not the sums of the threads: ${JSON.stringify(s)}`);
    }
    for (const th of s.threads) {
      if (th.held_polls > th.connections) t.fail(`a thread shows more held polls than connections: ${JSON.stringify(s)}`);
    }
  };

  for (let round = 0; round < ROUNDS; round++) {
    // Stats are asked for continuously while the polls arrive.
    let asking = true;
    const asker = (async () => {
      while (asking) check(await app.stats());
    })();
    const conns = await mapLimit(Array.from({ length: POLLS_PER_ROUND }, (_, i) => i), 20, async (i) => {
      const conn = await RawHttpConnection.open(server.httpPort, t);
      conn.write(`GET /poll?client=r${round}-${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
      return conn;
    });
    await waitFor(`${POLLS_PER_ROUND} polls held`, async () => (await sender.stats()).held_polls >= POLLS_PER_ROUND, { timeoutMs: 20_000 });
    // Half are answered by a message, half dropped by their peer.
    for (let i = 0; i < POLLS_PER_ROUND; i++) {
      if (i % 2 === 0) t.match(await sender.request({ op: 'send', client: `r${round}-${i}`, data: i }), { ok: true });
      else conns[i]!.destroy();
    }
    await waitFor('every poll answered or gone', async () => (await sender.stats()).held_polls === 0, { timeoutMs: 20_000 });
    asking = false;
    await asker;
    for (const conn of conns) conn.destroy();
  }
  t.ok(replies > ROUNDS, `${replies} stats replies, all consistent`);
});
