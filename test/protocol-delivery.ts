// PROTOCOL.md section 1, Semantics: delivery to a held poll, queueing,
// acknowledgement through since, recovery of a lost response, one held poll
// per client across threads, send order and the data passed byte for byte.
import t from 'tap';
import { availableParallelism } from 'node:os';
import { AppConnection } from './helpers/app-client.js';
import { expectEmptyPoll, expectPollResponse } from './helpers/expect.js';
import { RawHttpConnection, requestBytes } from './helpers/http-client.js';
import { startServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';

const POLL_TIMEOUT_S = 5;
const THREADS = 4;
// Threads to see holding something: two, or one on a 1-CPU machine (past the CPU count only as
// many workers as there are CPUs take connections).
const ACCEPTING = Math.min(THREADS, availableParallelism(), 2);
const server = await startServer(t, ['--threads', String(THREADS), '--poll-timeout', String(POLL_TIMEOUT_S)]);
const port = server.httpPort;
const app = await AppConnection.open(server.appPort, t);

/** Waits until the server reports a held poll for `client`. */
async function heldFor(client: string): Promise<void> {
  await waitFor(`a held poll for ${client}`, async () => (await app.status(client)).connected);
}

t.test('§1 semantics: a send to a client with a held poll is delivered to it at once', async (t) => {
  const conn = await RawHttpConnection.open(port, t);
  const polledAt = Date.now();
  conn.write(requestBytes('GET', '/poll?client=live-1&since=0'));
  await heldFor('live-1');
  const sentAt = Date.now();
  const id = await app.sendTo('live-1', { live: true });
  const res = await conn.readResponse();
  const body = expectPollResponse(t, res);
  t.equal(body.cursor, id);
  t.same(body.messages, [{ live: true }], 'the held poll is answered with the message');
  // How fast is a benchmark's question; here it is enough that the send, not the poll timeout, answered.
  t.ok(res.receivedAt - polledAt < POLL_TIMEOUT_S * 1000, 'before the poll timeout');
  t.comment(`delivered ${res.receivedAt - sentAt} ms after the send`);
});

t.test('§1 semantics: a message sent before the poll is delivered at once', async (t) => {
  const id = await app.sendTo('later-1', 'queued first');
  const status = await app.status('later-1');
  t.same(status, { connected: false, queued: 1 }, 'status shows it queued, no poll held');
  const conn = await RawHttpConnection.open(port, t);
  const start = Date.now();
  const body = expectPollResponse(t, await conn.get('/poll?client=later-1'));
  t.ok(Date.now() - start < POLL_TIMEOUT_S * 1000, 'answered at once, not held until the poll timeout');
  t.equal(body.cursor, id);
  t.same(body.messages, ['queued first']);
});

t.test('§1 semantics: since acknowledges every message up to it', async (t) => {
  const conn = await RawHttpConnection.open(port, t);
  const id1 = await app.sendTo('ack-1', 'one');
  const id2 = await app.sendTo('ack-1', 'two');
  t.ok(id2 > id1, 'ids increase');

  let body = expectPollResponse(t, await conn.get('/poll?client=ack-1&since=0'));
  t.same(body.messages, ['one', 'two']);
  t.equal(body.cursor, id2);
  t.equal((await app.status('ack-1')).queued, 2, 'since=0 acknowledges nothing');

  body = expectPollResponse(t, await conn.get(`/poll?client=ack-1&since=${id1}`));
  t.same(body.messages, ['two'], 'since=id1 acknowledges the first message only');
  t.equal(body.cursor, id2);
  t.equal((await app.status('ack-1')).queued, 1);

  conn.write(requestBytes('GET', `/poll?client=ack-1&since=${id2}`));
  await heldFor('ack-1');
  t.same(await app.status('ack-1'), { connected: true, queued: 0 }, 'since=id2 acknowledges both; the poll is held');
  const id3 = await app.sendTo('ack-1', 'three');
  body = expectPollResponse(t, await conn.readResponse());
  t.same(body.messages, ['three'], 'the held poll gets only the new message');
  t.equal(body.cursor, id3);
});

t.test('§1 semantics: a lost response is recovered by re-polling with the old cursor', async (t) => {
  const first = await RawHttpConnection.open(port, t);
  const id1 = await app.sendTo('lost-1', 'm1');
  const id2 = await app.sendTo('lost-1', 'm2');
  const seen = expectPollResponse(t, await first.get('/poll?client=lost-1&since=0'));
  t.same(seen.messages, ['m1', 'm2']);
  // The client never saw that answer (its connection died): it polls again with the cursor it had.
  first.destroy();
  const again = await RawHttpConnection.open(port, t);
  const retry = expectPollResponse(t, await again.get('/poll?client=lost-1&since=0'));
  t.same(retry.messages, ['m1', 'm2'], 'the same messages again, nothing lost');
  t.equal(retry.cursor, id2);
  again.write(requestBytes('GET', `/poll?client=lost-1&since=${retry.cursor}`));
  await heldFor('lost-1');
  const id3 = await app.sendTo('lost-1', 'm3');
  const next = expectPollResponse(t, await again.readResponse());
  t.same(next.messages, ['m3'], 'nothing is delivered twice once acknowledged');
  t.equal(next.cursor, id3);
  t.ok(id1 < id2 && id2 < id3);
});

t.test('§1 semantics: a message sent as the held poll goes away is kept for the next poll', async (t) => {
  const conn = await RawHttpConnection.open(port, t);
  conn.write(requestBytes('GET', '/poll?client=vanish-1'));
  await heldFor('vanish-1');
  conn.destroy();
  const id = await app.sendTo('vanish-1', 'survives');
  await waitFor('the closed poll to be forgotten', async () => !(await app.status('vanish-1')).connected);
  t.equal((await app.status('vanish-1')).queued, 1, 'still queued');
  const next = await RawHttpConnection.open(port, t);
  const body = expectPollResponse(t, await next.get('/poll?client=vanish-1'));
  t.same(body.messages, ['survives']);
  t.equal(body.cursor, id);
});

t.test('§1 semantics: status connected follows the held poll', async (t) => {
  t.same(await app.status('status-1'), { connected: false, queued: 0 }, 'unknown client: not connected, nothing queued');
  const conn = await RawHttpConnection.open(port, t);
  conn.write(requestBytes('GET', '/poll?client=status-1'));
  await heldFor('status-1');
  t.pass('connected while the poll is held');
  conn.destroy();
  await waitFor('connected to become false after the peer closed', async () => !(await app.status('status-1')).connected);
  t.pass('not connected once the socket closed');
});

t.test('§1 semantics: a newer poll for the same client releases the older one at once', async (t) => {
  await t.test('on the same thread or not: two connections', async (t) => {
    const a = await RawHttpConnection.open(port, t);
    const b = await RawHttpConnection.open(port, t);
    const aSent = Date.now();
    a.write(requestBytes('GET', '/poll?client=one-held&since=3'));
    await heldFor('one-held');
    b.write(requestBytes('GET', '/poll?client=one-held&since=0'));
    const released = await a.readResponse();
    expectEmptyPoll(t, released, 3);
    // Its own timeout would answer it no sooner than POLL_TIMEOUT_S after it was sent.
    t.ok(released.receivedAt - aSent < POLL_TIMEOUT_S * 1000, `the older poll is released by the newer one (${released.receivedAt - aSent} ms after it was sent)`);
    await heldFor('one-held');
    const id = await app.sendTo('one-held', 'to the newest');
    // Had the newer poll been answered already, that answer would be read here first.
    const body = expectPollResponse(t, await b.readResponse());
    t.same(body.messages, ['to the newest'], 'the newer poll stayed held and gets the message');
    t.equal(body.cursor, id);
  });

  await t.test('across threads: eight or more connections take turns', async (t) => {
    // Connections land on the workers at random (past the CPU count, on as many workers as there
    // are CPUs): open them until at least two threads hold some, 8 at least and 64 at most.
    const conns: RawHttpConnection[] = [];
    let busyThreads = 0;
    while (conns.length < 64 && (conns.length < 8 || busyThreads < ACCEPTING)) {
      const conn = await RawHttpConnection.open(port, t);
      t.equal((await conn.get('/health')).status, 200);
      conns.push(conn);
      if (conns.length < 8) continue;
      // Per-thread counts may lag the sockets a little: wait until all are counted.
      const threads = await waitFor('the connections in the per-thread stats', async () => {
        const stats = await app.stats();
        return stats.threads.reduce((n, th) => n + th.connections, 0) >= conns.length ? stats.threads : undefined;
      });
      busyThreads = threads.filter((th) => th.connections > 0).length;
    }
    t.ok(busyThreads >= ACCEPTING, `${conns.length} connections are spread over ${busyThreads} of ${THREADS} threads`);
    const last = conns.length - 1;

    // A real cursor, so that each poll's since is a value the client could hold.
    const seed = await app.sendTo('cross-thread', 'seed');
    const first = expectPollResponse(t, await conns[0]!.get('/poll?client=cross-thread&since=0'));
    t.equal(first.cursor, seed);
    const sentAt: number[] = [];
    for (let i = 0; i < conns.length; i++) {
      sentAt.push(Date.now());
      conns[i]!.write(requestBytes('GET', `/poll?client=cross-thread&since=${seed}`));
      if (i === 0) {
        await heldFor('cross-thread');
        continue;
      }
      const released = await conns[i - 1]!.readResponse();
      expectEmptyPoll(t, released, seed);
      const held = released.receivedAt - sentAt[i - 1]!;
      t.ok(held < POLL_TIMEOUT_S * 1000, `poll ${i} released poll ${i - 1}, not its timeout (${held} ms after it was sent)`);
    }
    const id = await app.sendTo('cross-thread', 'last one wins');
    const body = expectPollResponse(t, await conns[last]!.readResponse());
    t.same(body.messages, ['last one wins']);
    t.equal(body.cursor, id);
    // A stray answer on a released connection would be read before the answer to a new request.
    for (const [i, conn] of conns.slice(0, last).entries()) {
      const res = await conn.get('/health');
      t.same([res.status, res.text, conn.pending.length], [200, 'ok', 0], `released connection ${i} got nothing more`);
    }
  });
});

t.test('§1 semantics: messages arrive in send order with increasing ids', async (t) => {
  const lines = Array.from({ length: 50 }, (_, i) => JSON.stringify({ op: 'send', client: 'order-1', data: i, ref: i })).join('\n');
  app.writeRaw(`${lines}\n`);
  const ids: number[] = [];
  for (let i = 0; i < 50; i++) {
    const reply = await app.readReply();
    t.equal(reply.ref, i, 'replies come in request order');
    ids.push(reply.id as number);
  }
  t.ok(ids.every((id, i) => i === 0 || id > (ids[i - 1] as number)), 'ids strictly increase');
  const conn = await RawHttpConnection.open(port, t);
  const body = expectPollResponse(t, await conn.get('/poll?client=order-1'));
  t.same(body.messages, Array.from({ length: 50 }, (_, i) => i), 'all 50 in send order');
  t.equal(body.cursor, ids[49]);
});

t.test('§1 semantics: data is passed byte for byte', async (t) => {
  const values: Array<[string, string]> = [
    ['a number beyond double precision', '12345678901234567890'],
    ['a negative fraction with exponent', '-0.5e-10'],
    ['unicode, escapes and an astral character', '"h\u00e9llo \u4e16\u754c \ud83c\udf0d \\u0000 \\" \\n"'],
    ['a nested object', '{"a":[1,{"b":null,"c":[true,false]}],"d":{"e":{"f":"g"}}}'],
    ['an empty string', '""'],
    ['an empty array', '[]'],
    ['an empty object', '{}'],
    ['null', 'null'],
    ['true', 'true'],
  ];
  const raw = values.map(([, text]) => `{"op":"send","client":"bytes-1","data":${text}}`).join('\n');
  app.writeRaw(`${raw}\n`);
  for (const [name] of values) t.equal((await app.readReply()).ok, true, `${name} accepted`);
  const conn = await RawHttpConnection.open(port, t);
  const res = await conn.get('/poll?client=bytes-1');
  const body = expectPollResponse(t, res);
  t.same(body.messages, values.map(([, text]) => JSON.parse(text) as unknown), 'every value arrives semantically identical');
  t.match(res.text, /"messages"\s*:\s*\[\s*12345678901234567890\s*,/, 'the big number keeps all its digits');
  t.ok(res.text.includes('\ud83c\udf0d') || res.text.includes('\\ud83c\\udf0d'), 'the astral character survives');
});

t.test('§1 semantics: client ids are case-sensitive', async (t) => {
  await app.sendTo('Case-A', 'upper');
  t.equal((await app.status('case-a')).queued, 0, 'case-a is another client');
  t.equal((await app.status('Case-A')).queued, 1);
});

t.test('§2 send: deeply nested data is accepted and delivered intact', async (t) => {
  // 30,000 levels, 60,000 bytes: under the default --max-message of 64 KiB. A recursive parser would overflow its stack.
  const depth = 30_000;
  const data = '['.repeat(depth) + ']'.repeat(depth);
  app.writeRaw(`{"op":"send","client":"deep-1","data":${data},"ref":"deep"}\n`);
  const reply = await app.readReply();
  t.equal(reply.ok, true, `accepted: ${JSON.stringify(reply).slice(0, 200)}`);
  t.equal(reply.ref, 'deep');
  t.equal((await app.request({ op: 'stats' })).ok, true, 'the app connection still works');
  const conn = await RawHttpConnection.open(port, t);
  const res = await conn.get('/poll?client=deep-1');
  t.equal(res.status, 200);
  t.ok(res.text.includes(`"messages":[${data}]`), 'the nested value arrives byte for byte');
  t.equal((await app.status('deep-1')).queued, 1, 'and the server is still serving');
});

t.test('§1 semantics: a message for a closed poll never reaches the connection that reuses its socket', async (t) => {
  let misdelivered = 0;
  for (let i = 0; i < 30; i++) {
    const ghost = await RawHttpConnection.open(port, t);
    ghost.write(requestBytes('GET', `/poll?client=ghost-${i}`));
    await heldFor(`ghost-${i}`);
    ghost.destroy();
    // The next connection is likely to get the closed one's engine slot; the send races the close.
    const next = await RawHttpConnection.open(port, t);
    const sendGhost = app.sendTo(`ghost-${i}`, `for ghost ${i}`);
    next.write(requestBytes('GET', `/poll?client=heir-${i}`));
    await sendGhost;
    await heldFor(`heir-${i}`);
    const id = await app.sendTo(`heir-${i}`, `for heir ${i}`);
    const body = expectPollResponse(t, await next.readResponse());
    if (JSON.stringify(body.messages) !== JSON.stringify([`for heir ${i}`]) || body.cursor !== id) {
      misdelivered++;
      t.fail(`heir-${i} got ${JSON.stringify(body)}`);
    }
    next.destroy();
  }
  t.equal(misdelivered, 0, 'every heir got only its own message');
});
