// PROTOCOL.md section 1, Semantics, under load: 10,000 messages to 1,000
// clients spread over 4 worker threads while every client keeps re-polling
// with the cursor it last saw. Each message carries its sequence number, so
// the test can demand the exact sequence per client: no loss, no duplicate,
// no reordering, and every cursor equal to the id the app was given.
import t from 'tap';
import { availableParallelism } from 'node:os';
import { AppConnection } from './helpers/app-client.js';
import { RawHttpConnection } from './helpers/http-client.js';
import { pollBody } from './helpers/poll.js';
import { startServer } from './helpers/server.js';
import { mapLimit, settle, waitFor, withTimeout } from './helpers/wait.js';

const CLIENTS = 1000;
const ROUNDS = 10;
const THREADS = 4;
// Threads to see holding something: two, or one on a 1-CPU machine (past the CPU count only as
// many workers as there are CPUs take connections).
const ACCEPTING = Math.min(THREADS, availableParallelism(), 2);

const server = await startServer(t, ['--threads', String(THREADS), '--poll-timeout', '5']);
const app = await AppConnection.open(server.appPort, t);

interface Subscriber {
  name: string;
  conn: RawHttpConnection;
  cursor: number;
  seqs: number[];
  /** cursors seen, one per non-empty response, with the seq of the response's last message */
  answers: Array<{ cursor: number; lastSeq: number }>;
  problems: string[];
}

t.test('§1 semantics: 10,000 messages to 1,000 re-polling clients over 4 threads arrive exactly once, in order', async (t) => {
  const started = Date.now();
  const names = Array.from({ length: CLIENTS }, (_, i) => `load-${i}`);
  const subscribers = await mapLimit(names, 100, async (name): Promise<Subscriber> => ({
    name,
    conn: await RawHttpConnection.open(server.httpPort, t),
    cursor: 0,
    seqs: [],
    answers: [],
    problems: [],
  }));

  let stop = false;
  const loops = subscribers.map(async (s) => {
    while (!stop) {
      let res;
      try {
        res = await s.conn.get(`/poll?client=${s.name}&since=${s.cursor}`, {}, { timeoutMs: 20_000 });
      } catch (err) {
        if (!stop) s.problems.push(`poll failed: ${(err as Error).message}`);
        return;
      }
      if (res.status !== 200) {
        s.problems.push(`status ${res.status}: ${res.text}`);
        return;
      }
      const body = pollBody(res);
      if (body.messages.length === 0) {
        if (body.cursor !== s.cursor) s.problems.push(`empty answer with cursor ${body.cursor}, asked with ${s.cursor}`);
        continue;
      }
      for (const m of body.messages) s.seqs.push((m as { seq: number }).seq);
      s.answers.push({ cursor: body.cursor, lastSeq: (body.messages[body.messages.length - 1] as { seq: number }).seq });
      s.cursor = body.cursor;
    }
  });

  await waitFor('every subscriber to hold a poll', async () => (await app.stats()).held_polls >= CLIENTS, { timeoutMs: 15_000, intervalMs: 50 });
  const stats = await settle(() => app.stats(), (st) => st.threads.reduce((n, th) => n + th.held_polls, 0) >= CLIENTS);
  t.equal(stats.threads.length, THREADS, 'stats lists every thread');
  const busy = stats.threads.filter((th) => th.held_polls > 0).length;
  t.ok(busy >= ACCEPTING, `held polls are spread over ${busy} threads`);

  // ids[client][seq]: the id the app was told for that message.
  const ids = new Map<string, number[]>(names.map((n) => [n, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const data = { seq: round };
    if (round % 2 === 0) {
      app.writeRaw(names.map((client) => JSON.stringify({ op: 'send', client, data })).join('\n') + '\n');
      for (const client of names) {
        const reply = await app.readReply();
        if (reply.ok !== true || typeof reply.id !== 'number') throw new Error(`send to ${client} refused: ${JSON.stringify(reply)}`);
        ids.get(client)!.push(reply.id);
      }
    } else {
      const reply = await app.request({ op: 'send', clients: names, data });
      if (reply.ok !== true || !Array.isArray(reply.ids) || reply.ids.length !== CLIENTS) {
        throw new Error(`sendMany refused: ${JSON.stringify(reply).slice(0, 300)}`);
      }
      reply.ids.forEach((id, i) => ids.get(names[i] as string)!.push(id));
    }
  }

  const expected = Array.from({ length: ROUNDS }, (_, i) => i);
  try {
    await waitFor(
      'every subscriber to receive all its messages',
      () => subscribers.every((s) => s.seqs.length >= ROUNDS || s.problems.length > 0),
      { timeoutMs: 20_000, intervalMs: 50 },
    );
    // The last re-poll of each client acknowledges everything it got.
    await waitFor('every message to be acknowledged', async () => (await app.stats()).queued === 0, { timeoutMs: 10_000, intervalMs: 50 });
  } finally {
    stop = true;
    for (const s of subscribers) s.conn.destroy();
    await withTimeout(Promise.all(loops), 10_000, 'the poll loops to stop');
  }

  let wrongSeqs = 0;
  let wrongCursors = 0;
  let badIds = 0;
  for (const s of subscribers) {
    const clientIds = ids.get(s.name)!;
    if (!clientIds.every((id, i) => i === 0 || id > (clientIds[i - 1] as number))) badIds++;
    if (JSON.stringify(s.seqs) !== JSON.stringify(expected)) {
      if (wrongSeqs++ < 5) t.fail(`${s.name} received seqs ${JSON.stringify(s.seqs)}, expected ${JSON.stringify(expected)}`);
    }
    for (const a of s.answers) {
      if (a.cursor !== clientIds[a.lastSeq]) {
        if (wrongCursors++ < 5) t.fail(`${s.name}: cursor ${a.cursor} for a response ending in seq ${a.lastSeq}, whose id is ${clientIds[a.lastSeq]}`);
      }
    }
    for (const p of s.problems.slice(0, 1)) t.fail(`${s.name}: ${p}`);
  }
  t.equal(wrongSeqs, 0, 'every client received exactly seqs 0..9 in order, once each');
  t.equal(wrongCursors, 0, 'every cursor is the id of the last message in its response');
  t.equal(badIds, 0, "each client's ids strictly increase in send order");
  t.equal(subscribers.filter((s) => s.problems.length > 0).length, 0, 'no poll failed');
  t.comment(`10,000 messages delivered and acknowledged in ${Date.now() - started} ms`);
});
