// PROTOCOL.md section 2, the app side: framing (pipelining, blank lines,
// \r\n, bad lines that do not disturb others), every op and error code, ref
// echo, sendMany, the size limits and queue_full.
import t, { type Test } from 'tap';
import { AppConnection } from './helpers/app-client.js';
import { expectAppError as expectError, expectPollResponse, show } from './helpers/expect.js';
import { RawHttpConnection } from './helpers/http-client.js';
import { startServer } from './helpers/server.js';
import { settle, waitFor } from './helpers/wait.js';

const MAX_QUEUE = 3;
const MAX_MESSAGE = 100;
const MAX_LINE = 200_000;
const THREADS = 2;
const server = await startServer(t, [
  '--threads', String(THREADS),
  '--poll-timeout', '5',
  '--max-queue', String(MAX_QUEUE),
  '--max-message', String(MAX_MESSAGE),
  '--max-line', String(MAX_LINE),
]);

async function open(t: Test): Promise<AppConnection> {
  return AppConnection.open(server.appPort, t);
}

/** Waits until status(client) satisfies `check`. */
async function statusUntil(app: AppConnection, client: string, what: string, check: (s: { connected: boolean; queued: number }) => boolean) {
  return waitFor(what, async () => {
    const s = await app.status(client);
    return check(s) ? s : undefined;
  });
}

t.test('§2 framing: pipelined requests get one reply each, in order', async (t) => {
  const app = await open(t);
  app.writeRaw(Array.from({ length: 100 }, (_, i) => JSON.stringify({ op: i % 2 ? 'stats' : 'status', client: 'pipe', ref: i })).join('\n') + '\n');
  for (let i = 0; i < 100; i++) {
    const reply = await app.readReply();
    t.equal(reply.ref, i, `reply ${i} answers request ${i}`);
    t.equal(reply.ok, true);
  }
  // Replies come in request order: an extra line would come before this reply.
  t.equal((await app.request({ op: 'stats', ref: 'last' })).ref, 'last', 'no extra reply lines');
  t.equal(app.bufferedLines.length, 0);
});

t.test('§2 framing: whitespace-only lines are skipped without a reply', async (t) => {
  const app = await open(t);
  app.writeRaw('\n   \n\t\n \r\n{"op":"stats","ref":1}\n\n');
  t.equal((await app.readReply()).ref, 1, 'the first reply is for the first real request');
  app.send({ op: 'stats', ref: 2 });
  t.equal((await app.readReply()).ref, 2, 'and nothing was answered for the blank lines');
  t.equal(app.bufferedLines.length, 0);
});

t.test('§2 framing: \\r\\n line ends are accepted', async (t) => {
  const app = await open(t);
  app.writeRaw('{"op":"stats","ref":"crlf-1"}\r\n{"op":"status","client":"crlf","ref":"crlf-2"}\r\n');
  const a = await app.readReply();
  const b = await app.readReply();
  t.equal(a.ok, true);
  t.equal(a.ref, 'crlf-1');
  t.same([b.ok, b.ref, b.queued], [true, 'crlf-2', 0]);
});

t.test('§2 framing: a request split over several writes is one request', async (t) => {
  const app = await open(t);
  // The server reads this connection's byte before it reads the request on
  // the other one, so each round trip there means one byte read here.
  const other = await open(t);
  const line = '{"op":"status","client":"split","ref":"split"}\n';
  for (const ch of line) {
    await app.writeAll(ch);
    t.equal((await other.request({ op: 'stats' })).ok, true);
  }
  const reply = await app.readReply();
  t.equal(reply.ref, 'split');
  t.equal(reply.ok, true);
});

t.test('§2 errors: bad JSON is bad_json and the lines around it are still answered', async (t) => {
  const app = await open(t);
  app.writeRaw('{"op":"stats","ref":1}\n{"op":\n{"op":"stats","ref":3}\nnot json at all\n{"op":"stats","ref":5}\n');
  t.equal((await app.readReply()).ref, 1);
  expectError(t, await app.readReply(), 'bad_json');
  t.equal((await app.readReply()).ref, 3);
  expectError(t, await app.readReply(), 'bad_json');
  const last = await app.readReply();
  t.equal(last.ref, 5);
  t.equal(last.ok, true);
  t.notOk(app.isClosed, 'the connection stays open');
});

t.test('§2 errors: valid JSON that is not an object is bad_request', async (t) => {
  const app = await open(t);
  for (const line of ['[1,2]', '"stats"', '42', 'null', 'true', '[{"op":"stats"}]']) {
    app.writeRaw(`${line}\n`);
    expectError(t, await app.readReply(), 'bad_request');
  }
  t.equal((await app.request({ op: 'stats' })).ok, true, 'the connection still works');
});

t.test('§2 errors: a missing or unknown op', async (t) => {
  const app = await open(t);
  expectError(t, await app.request({ client: 'x', data: 1 }), 'bad_request');
  expectError(t, await app.request({ op: 'frobnicate', ref: 'u' }), 'unknown_op');
  const nonString = await app.request({ op: 5 });
  t.equal(nonString.ok, false);
  t.ok(nonString.error === 'bad_request' || nonString.error === 'unknown_op', `op 5 is refused as bad_request or unknown_op (${nonString.error})`);
});

t.test('§2 ref: any JSON value is echoed verbatim, on success and on error', async (t) => {
  const app = await open(t);
  const refs: unknown[] = ['text', 0, -1.5, true, null, [1, 'two', { three: 3 }], { nested: { deep: ['x'] } }];
  for (const ref of refs) {
    t.same((await app.request({ op: 'stats', ref })).ref, ref, `ok reply echoes ${JSON.stringify(ref)}`);
    t.same((await app.request({ op: 'nope', ref })).ref, ref, `error reply echoes ${JSON.stringify(ref)}`);
  }
  app.writeRaw('{"op":"stats","ref":12345678901234567890}\n');
  const line = await app.readLine();
  t.match(line, /"ref"\s*:\s*12345678901234567890\b/, `a big number ref keeps its digits: ${line.slice(0, 200)}`);
  app.writeRaw('{"op":"send","ref":"no-client","data":1}\n');
  t.equal((await app.readReply()).ref, 'no-client', 'bad_request echoes ref');
});

t.test('§2 send: one client', async (t) => {
  const app = await open(t);
  const reply = await app.request({ op: 'send', client: 'send-1', data: { a: 1 } });
  t.equal(reply.ok, true);
  t.ok(Number.isSafeInteger(reply.id) && (reply.id as number) > 0, `id is a positive integer below 2^53 (${reply.id})`);
  const nullData = await app.request({ op: 'send', client: 'send-1', data: null });
  t.equal(nullData.ok, true, 'null is valid data');
  t.ok((nullData.id as number) > (reply.id as number), 'ids increase');
  t.same(await app.status('send-1'), { connected: false, queued: 2 });
});

t.test('§2 send: invalid fields are bad_request', async (t) => {
  const app = await open(t);
  const cases: Array<[string, unknown]> = [
    ['no client or clients', { op: 'send', data: 1 }],
    ['no data', { op: 'send', client: 'bad-1' }],
    ['client and clients together', { op: 'send', client: 'bad-1', clients: ['bad-2'], data: 1 }],
    ['an empty client id', { op: 'send', client: '', data: 1 }],
    ['a client id that is a number', { op: 'send', client: 5, data: 1 }],
    ['a 65-byte client id', { op: 'send', client: 'c'.repeat(65), data: 1 }],
    ['a client id with a dot', { op: 'send', client: 'a.b', data: 1 }],
    ['a client id with non-ASCII', { op: 'send', client: '\u00e9', data: 1 }],
    ['clients not an array', { op: 'send', clients: 'bad-1', data: 1 }],
    ['clients empty', { op: 'send', clients: [], data: 1 }],
    ['clients with a duplicate', { op: 'send', clients: ['dup-1', 'dup-2', 'dup-1'], data: 1 }],
    ['clients with an invalid id', { op: 'send', clients: ['ok-1', 'a.b'], data: 1 }],
    ['clients with a non-string', { op: 'send', clients: ['ok-1', 7], data: 1 }],
  ];
  for (const [name, request] of cases) {
    await t.test(name, async (t) => expectError(t, await app.request(request), 'bad_request'));
  }
  for (const client of ['bad-1', 'bad-2', 'dup-1', 'dup-2', 'ok-1']) {
    t.equal((await app.status(client)).queued, 0, `nothing was queued for ${client}`);
  }
});

t.test('§2 send: clients gets ids in the order of clients', async (t) => {
  const app = await open(t);
  const reply = await app.request({ op: 'send', clients: ['many-z', 'many-a', 'many-m'], data: 'fan-out', ref: 'm' });
  t.equal(reply.ok, true);
  t.equal(reply.ref, 'm');
  t.equal(reply.ids?.length, 3);
  const http = await RawHttpConnection.open(server.httpPort, t);
  for (const [i, client] of ['many-z', 'many-a', 'many-m'].entries()) {
    const body = expectPollResponse(t, await http.get(`/poll?client=${client}`));
    t.equal(body.cursor, reply.ids?.[i], `${client} got the id at position ${i}`);
    t.same(body.messages, ['fan-out']);
  }
});

t.test('§2 send: clients takes 1 to 10,000 distinct ids', async (t) => {
  const app = await open(t);
  const one = await app.request({ op: 'send', clients: ['solo-1'], data: 1 });
  t.equal(one.ok, true, 'one client is ok');
  t.equal(one.ids?.length, 1);
  const tenThousand = Array.from({ length: 10_000 }, (_, i) => `tk-${i}`);
  const max = await app.request({ op: 'send', clients: tenThousand, data: 0 });
  t.equal(max.ok, true, '10,000 clients is ok');
  t.equal(max.ids?.length, 10_000);
  t.equal(new Set(max.ids).size, 10_000, 'ids are distinct');
  t.ok(max.ids?.every((id) => Number.isSafeInteger(id) && id > 0), 'every id is a positive safe integer');
  const over = await app.request({ op: 'send', clients: [...tenThousand.map((c) => `x${c}`), 'one-more'], data: 0 });
  expectError(t, over, 'bad_request');
  t.equal((await app.status('one-more')).queued, 0, '10,001 clients queues nothing');
});

t.test('§2 send: queue_full refuses, all or nothing', async (t) => {
  const app = await open(t);
  for (let i = 0; i < MAX_QUEUE; i++) t.equal((await app.request({ op: 'send', client: 'full-1', data: i })).ok, true, `message ${i} fits`);
  expectError(t, await app.request({ op: 'send', client: 'full-1', data: 'too many' }), 'queue_full');
  expectError(t, await app.request({ op: 'send', clients: ['full-2', 'full-1', 'full-3'], data: 'fan' }), 'queue_full');
  t.equal((await app.status('full-2')).queued, 0, 'nothing queued for the client before the full one');
  t.equal((await app.status('full-3')).queued, 0, 'nothing queued for the client after the full one');
  t.equal((await app.status('full-1')).queued, MAX_QUEUE, 'the full queue is unchanged');

  const http = await RawHttpConnection.open(server.httpPort, t);
  const body = expectPollResponse(t, await http.get('/poll?client=full-1&since=0'));
  t.same(body.messages, [0, 1, 2], 'the refused messages were never queued');
  http.write(`GET /poll?client=full-1&since=${body.cursor} HTTP/1.1\r\nHost: x\r\n\r\n`);
  await statusUntil(app, 'full-1', 'the acknowledging poll to empty the queue', (s) => s.queued === 0);
  t.pass('acknowledging frees the queue');
  const after = await app.request({ op: 'send', client: 'full-1', data: 'room again' });
  t.equal(after.ok, true, 'and sends are accepted again');
  t.same(expectPollResponse(t, await http.readResponse()).messages, ['room again']);
});

t.test('§2 send: too_large for data over --max-message, as it stands in the line', async (t) => {
  const app = await open(t);
  const cases: Array<[string, string, boolean]> = [
    ['a string of exactly the limit', `"${'x'.repeat(MAX_MESSAGE - 2)}"`, true],
    ['a string one byte over', `"${'x'.repeat(MAX_MESSAGE - 1)}"`, false],
    ['whitespace inside the value counts: exactly the limit', `[${' '.repeat(MAX_MESSAGE - 2)}]`, true],
    ['whitespace inside the value counts: one byte over', `[${' '.repeat(MAX_MESSAGE - 1)}]`, false],
    ['bytes, not characters: exactly the limit', `"${'\u00e9'.repeat((MAX_MESSAGE - 2) / 2)}"`, true],
    ['bytes, not characters: two bytes over', `"${'\u00e9'.repeat(MAX_MESSAGE / 2)}"`, false],
  ];
  for (const [name, data, fits] of cases) {
    app.writeRaw(`{"op":"send","client":"size-1","data":${data},"ref":"size"}\n`);
    const reply = await app.readReply();
    if (fits) t.equal(reply.ok, true, `${name} (${Buffer.byteLength(data)} bytes) is accepted: ${show(JSON.stringify(reply))}`);
    else expectError(t, reply, 'too_large');
    t.equal(reply.ref, 'size', 'ref echoed');
    if (reply.ok) {
      const http = await RawHttpConnection.open(server.httpPort, t);
      const body = expectPollResponse(t, await http.get(`/poll?client=size-1&since=${(reply.id as number) - 1}`));
      t.same(body.messages.at(-1), JSON.parse(data) as unknown);
      // Acknowledge, so the next case has room in the queue.
      http.write(`GET /poll?client=size-1&since=${body.cursor} HTTP/1.1\r\nHost: x\r\n\r\n`);
      await statusUntil(app, 'size-1', 'the acknowledgement', (s) => s.queued === 0);
      http.destroy();
    }
  }
  const many = await app.request({ op: 'send', clients: ['size-2', 'size-3'], data: 'y'.repeat(MAX_MESSAGE) });
  expectError(t, many, 'too_large');
  t.equal((await app.status('size-2')).queued, 0, 'nothing queued by a too_large sendMany');
});

t.test('§2 framing: a line over --max-line is answered too_large, then the connection is closed', async (t) => {
  await t.test('a line of exactly --max-line bytes is served', async (t) => {
    const app = await open(t);
    const prefix = '{"op":"stats","ref":"long"';
    const line = prefix + ' '.repeat(MAX_LINE - prefix.length - 1) + '}';
    t.equal(line.length, MAX_LINE);
    app.writeRaw(`${line}\n`);
    const reply = await app.readReply();
    t.equal(reply.ok, true);
    t.equal(reply.ref, 'long');
    t.equal((await app.request({ op: 'stats', ref: 'after' })).ref, 'after', 'the connection stays open');
  });
  await t.test('a line of exactly --max-line bytes ending in \\r\\n is served (the line end does not count)', async (t) => {
    const app = await open(t);
    const prefix = '{"op":"stats","ref":"long-crlf"';
    const line = prefix + ' '.repeat(MAX_LINE - prefix.length - 1) + '}';
    app.writeRaw(`${line}\r\n`);
    const reply = await app.readReply();
    t.equal(reply.ok, true, `served: ${show(JSON.stringify(reply))}`);
    t.equal(reply.ref, 'long-crlf');
  });
  await t.test('a line of --max-line + 1 bytes', async (t) => {
    const app = await open(t);
    const prefix = '{"op":"stats","ref":"too-long"';
    const line = prefix + ' '.repeat(MAX_LINE - prefix.length) + '}';
    t.equal(line.length, MAX_LINE + 1);
    app.writeRaw(`{"op":"stats","ref":"before"}\n${line}\n`);
    t.equal((await app.readReply()).ref, 'before', 'the line before it is answered');
    expectError(t, await app.readReply(), 'too_large');
    t.ok(await app.waitClosed(), 'then the server closes the connection');
  });
  await t.test('an over-long line still missing its newline', async (t) => {
    const app = await open(t);
    app.writeRaw('x'.repeat(MAX_LINE + 1));
    expectError(t, await app.readReply(), 'too_large');
    t.ok(await app.waitClosed(), 'closed without waiting for the newline');
  });
});

t.test('§2 status: connected and queued', async (t) => {
  const app = await open(t);
  t.same(await app.status('st-1'), { connected: false, queued: 0 });
  await app.sendTo('st-1', 1);
  await app.sendTo('st-1', 2);
  t.same(await app.status('st-1'), { connected: false, queued: 2 });
  const http = await RawHttpConnection.open(server.httpPort, t);
  http.write('GET /poll?client=st-2 HTTP/1.1\r\nHost: x\r\n\r\n');
  const s = await statusUntil(app, 'st-2', 'the poll to be held', (st) => st.connected);
  t.same(s, { connected: true, queued: 0 }, 'connected while its poll is held');
  const withRef = await app.request({ op: 'status', client: 'st-1', ref: 7 });
  t.equal(withRef.ref, 7);
  expectError(t, await app.request({ op: 'status' }), 'bad_request');
  expectError(t, await app.request({ op: 'status', client: 'a.b' }), 'bad_request');
});

t.test('§2 stats: every documented key, one entry per thread', async (t) => {
  const app = await open(t);
  const http = await RawHttpConnection.open(server.httpPort, t);
  http.write('GET /poll?client=stats-held HTTP/1.1\r\nHost: x\r\n\r\n');
  // Counters may lag the sockets a little: settle on a reading that shows the held poll.
  const stats = await settle(
    () => app.stats(),
    (st) => st.held_polls >= 1 && st.connections >= 1 && st.threads.reduce((n, th) => n + th.held_polls, 0) === st.held_polls,
  );
  for (const key of ['connections', 'held_polls', 'clients', 'queued', 'sent', 'delivered', 'expired', 'refused'] as const) {
    t.ok(Number.isInteger(stats[key]) && stats[key] >= 0, `${key} is a count (${stats[key]})`);
  }
  t.ok(stats.held_polls >= 1, 'the held poll is counted');
  t.ok(stats.connections >= 1, 'its connection is counted');
  t.ok(stats.sent >= 1, 'earlier sends are counted');
  t.equal(stats.threads.length, THREADS, 'threads has one entry per --threads');
  for (const th of stats.threads) {
    t.ok(Number.isInteger(th.connections) && Number.isInteger(th.held_polls), `thread entry ${JSON.stringify(th)}`);
  }
  t.equal(stats.threads.reduce((n, th) => n + th.held_polls, 0), stats.held_polls, 'per-thread held polls add up');
});

t.test('§2 auth: without --app-secret it always succeeds', async (t) => {
  const app = await open(t);
  t.has(await app.request({ op: 'auth', secret: 'anything', ref: 'a' }), { ok: true, ref: 'a' });
  t.equal((await app.request({ op: 'auth', secret: '' })).ok, true);
  t.equal((await app.request({ op: 'stats' })).ok, true);
});
