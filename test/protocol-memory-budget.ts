// --max-memory end to end: messages for clients that never poll fill the
// budget, then sends get memory_full (never an ok that is later dropped, never
// a crash); a client that polls and acknowledges gives room back.
import t from 'tap';
import { AppConnection } from './helpers/app-client.js';
import { RawHttpConnection } from './helpers/http-client.js';
import { pollBody } from './helpers/poll.js';
import { startServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';

t.test('--max-memory: sends past the budget are refused with memory_full, and room comes back', async (t) => {
  const server = await startServer(t, ['--threads', '2', '--max-memory', '1M', '--max-queue', '100000']);
  const app = await AppConnection.open(server.appPort, t);
  const data = 'y'.repeat(10_000);
  let accepted = 0;
  let refusal: Record<string, unknown> | undefined;
  // 1 MiB of budget holds about a hundred 10 KB messages: stop at the first refusal (bounded loop).
  for (let i = 0; i < 1000 && refusal === undefined; i++) {
    const reply = await app.request({ op: 'send', client: `silent${i % 10}`, data });
    if (reply.ok === true) accepted++;
    else refusal = reply;
  }
  t.ok(accepted >= 50 && accepted <= 105, `${accepted} messages of 10 KB fit in 1 MiB`);
  t.match(refusal, { ok: false, error: 'memory_full', message: /--max-memory/ });
  const stats = await app.stats();
  t.equal(stats.memory_budget, 1 << 20);
  t.ok(stats.memory_used <= 1 << 20 && stats.memory_used > (1 << 20) - 11_000, `memory_used ${stats.memory_used} is just under the budget`);
  t.equal(stats.queued, accepted, 'every accepted message is still queued');
  t.match(await app.request({ op: 'send', clients: ['p', 'q'], data: 1 }), { ok: true }, 'small messages still fit in what is left');
  t.match(await app.request({ op: 'send', clients: ['p', 'q'], data }), { ok: false, error: 'memory_full' }, 'a fan-out that does not fit is refused whole');

  // One silent client polls: it gets all its messages (about 100 KB: one body); its next poll
  // acknowledges them, which frees their room, and is held.
  const conn = await RawHttpConnection.open(server.httpPort, t);
  const first = pollBody(await conn.get('/poll?client=silent0'));
  const queuedBefore = (await app.status('silent0')).queued;
  t.equal(first.messages.length, queuedBefore, 'one body carries every message of silent0');
  conn.write(`GET /poll?client=silent0&since=${first.cursor} HTTP/1.1\r\n\r\n`);
  await waitFor('silent0 to acknowledge', async () => (await app.status('silent0')).queued === 0);
  const after = await app.stats();
  t.ok(after.memory_used < stats.memory_used, `acknowledging freed room: ${stats.memory_used} -> ${after.memory_used}`);
  t.match(await app.request({ op: 'send', client: 'silent1', data }), { ok: true }, 'and a send fits again');
  t.equal((await app.stats()).refused_memory_full, 3);
});
