// PROTOCOL.md section 1, "Other requests" and the HTTP/1.1 framing every
// response relies on: /health, 404/405, malformed heads, the 8192-byte head
// limit, keep-alive, pipelining, Connection: close and the engine's timeouts.
import t from 'tap';
import { AppConnection } from './helpers/app-client.js';
import { loadFixture } from './helpers/fixtures.js';
import { expectCors, expectEmptyPoll, expectJsonError, expectPollResponse } from './helpers/expect.js';
import { RawHttpConnection, requestBytes } from './helpers/http-client.js';
import { startServer } from './helpers/server.js';
import { awaitLater, sleep, waitFor } from './helpers/wait.js';

const HEAD_TIMEOUT_S = 1;
const KEEPALIVE_TIMEOUT_S = 1;
const POLL_TIMEOUT_S = 2;

const server = await startServer(t, [
  '--threads', '2',
  '--head-timeout', String(HEAD_TIMEOUT_S),
  '--keepalive-timeout', String(KEEPALIVE_TIMEOUT_S),
  '--poll-timeout', String(POLL_TIMEOUT_S),
]);
const port = server.httpPort;
const app = await AppConnection.open(server.appPort, t);

/** A head of exactly `size` bytes: GET /health padded with one X-Pad header. */
function headOfSize(size: number): string {
  const bare = requestBytes('GET', '/health', { 'X-Pad': '' });
  const pad = size - bare.length;
  if (pad < 0) throw new Error(`cannot build a ${size}-byte head`);
  return requestBytes('GET', '/health', { 'X-Pad': 'a'.repeat(pad) });
}

t.test('§1 GET /health answers 200 ok', async (t) => {
  const conn = await RawHttpConnection.open(port, t);
  conn.write(loadFixture('health-get.http'));
  const res = await conn.readResponse();
  t.equal(res.version, 'HTTP/1.1');
  t.equal(res.status, 200);
  t.equal(res.text, 'ok');
  t.equal(res.headers['content-length'], '2');
  expectCors(t, res);
});

t.test('§1 HEAD /health answers 200 with Content-Length 2 and no body', async (t) => {
  const conn = await RawHttpConnection.open(port, t);
  conn.write(loadFixture('health-head.http'));
  const res = await conn.readResponse({ head: true });
  t.equal(res.status, 200);
  t.equal(res.headers['content-length'], '2', 'Content-Length is what GET would send');
  expectCors(t, res);
  // If the server had sent a body, it would be read here as the start of the next response.
  const next = await conn.get('/health');
  t.equal(next.status, 200, 'the next response on the connection starts right after the HEAD head');
  t.equal(next.text, 'ok');
});

t.test('§1 an unknown path is 404 with a JSON error body', async (t) => {
  for (const target of ['/', '/nope', '/poll/', '/poll/extra?client=a', '/Health', '/healthz', '/POLL?client=a']) {
    await t.test(`GET ${target}`, async (t) => {
      const conn = await RawHttpConnection.open(port, t);
      expectJsonError(t, await conn.get(target), 404);
    });
  }
});

t.test('§1 a method the path does not allow is 405', async (t) => {
  const cases: Array<[string, string]> = [
    ['POST', '/poll?client=a'],
    ['PUT', '/poll?client=a'],
    ['DELETE', '/poll?client=a'],
    ['PATCH', '/poll?client=a'],
    ['HEAD', '/poll?client=a'],
    ['POST', '/health'],
    ['DELETE', '/health'],
    ['OPTIONS', '/health'],
    ['PUT', '/health'],
  ];
  for (const [method, target] of cases) {
    await t.test(`${method} ${target}`, async (t) => {
      const conn = await RawHttpConnection.open(port, t);
      const headers: Record<string, string> = method === 'GET' || method === 'HEAD' || method === 'OPTIONS' ? {} : { 'Content-Length': '0' };
      const res = await conn.request(method, target, headers);
      if (method === 'HEAD') {
        t.equal(res.status, 405);
        expectCors(t, res);
      } else {
        expectJsonError(t, res, 405);
      }
    });
  }
});

t.test('§1 malformed HTTP is answered 400 and the connection closed', async (t) => {
  const cases: Array<[string, Buffer]> = [
    ['a request line that is not HTTP', loadFixture('malformed-request-line.http')],
    ['a header line without a colon', loadFixture('malformed-header.http')],
    ['a Content-Length that is not a number', Buffer.from(requestBytes('GET', '/health', { 'Content-Length': 'abc' }))],
    ['an unsupported HTTP version', Buffer.from('GET /health HTTP/2.7\r\nHost: 127.0.0.1\r\n\r\n')],
    ['a NUL byte in the request line', Buffer.from('GET /hea\0lth HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 'latin1')],
    // A TLS ClientHello sent to the plain-HTTP port: the first byte is already invalid.
    ['TLS bytes', Buffer.from('16030100a5010000a10303', 'hex')],
  ];
  for (const [name, bytes] of cases) {
    await t.test(name, async (t) => {
      const conn = await RawHttpConnection.open(port, t);
      conn.write(bytes);
      expectJsonError(t, await conn.readResponse(), 400);
      const closed = await conn.waitClosed();
      t.ok(closed, 'the server closes the connection after the 400');
      t.equal(conn.pending.length, 0, 'nothing follows the 400');
    });
  }
});

t.test('§1 a request head over 8192 bytes is 431 and close', async (t) => {
  await t.test('a head of exactly 8192 bytes is served', async (t) => {
    const conn = await RawHttpConnection.open(port, t);
    const head = headOfSize(8192);
    t.equal(Buffer.byteLength(head), 8192);
    conn.write(head);
    const res = await conn.readResponse();
    t.equal(res.status, 200, `8192-byte head answered 200 (got ${res.status})`);
    t.equal(res.text, 'ok');
  });
  await t.test('a head of 8193 bytes gets 431 then close', async (t) => {
    const conn = await RawHttpConnection.open(port, t);
    conn.write(headOfSize(8193));
    expectJsonError(t, await conn.readResponse(), 431);
    t.ok(await conn.waitClosed(), 'closed after the 431');
  });
  await t.test('a head that never ends gets 431 once it passes 8192 bytes', async (t) => {
    const conn = await RawHttpConnection.open(port, t);
    conn.write(`GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ${'b'.repeat(9000)}`);
    expectJsonError(t, await conn.readResponse(), 431);
    t.ok(await conn.waitClosed(), 'closed after the 431');
  });
});

t.test('§1 a valid head of many short headers, under 8192 bytes, is served', async (t) => {
  // Only malformed heads (400) and heads over 8192 bytes (431) are refused: 100 headers of ~16 bytes are neither.
  const headers: Record<string, string> = {};
  for (let i = 0; i < 100; i++) headers[`X-Header-${i}`] = 'v';
  const bytes = requestBytes('GET', '/health', headers);
  t.ok(bytes.length < 8192, `${bytes.length}-byte head`);
  const conn = await RawHttpConnection.open(port, t);
  conn.write(bytes);
  const res = await conn.readResponse();
  t.equal(res.status, 200, `answered 200 (got ${res.status} ${res.text})`);
});

t.test('§1 a request body is skipped, never read as the next request', async (t) => {
  const conn = await RawHttpConnection.open(port, t);
  // If the 3 body bytes were taken for the start of the next head, the second request would be "abcGET ...": a 400.
  conn.write(requestBytes('GET', '/health', { 'Content-Length': '3' }) + 'abc' + requestBytes('GET', '/nope'));
  const first = await conn.readResponse();
  if (first.status === 413) {
    t.ok(await conn.waitClosed(), 'a server that refuses bodies with 413 closes the connection');
    return;
  }
  t.equal(first.status, 200, `the request with a body is served (or refused with 413): got ${first.status}`);
  const second = await conn.readResponse();
  t.equal(second.status, 404, `the pipelined request after the body is parsed on its own (got ${second.status} ${second.text})`);
});

t.test('§1 keep-alive: several requests on one connection', async (t) => {
  const conn = await RawHttpConnection.open(port, t);
  const id = await app.sendTo('keepalive-1', { n: 1 });
  for (let i = 0; i < 5; i++) {
    const res = await conn.get('/health');
    t.equal(res.status, 200, `request ${i + 1} answered`);
    t.notOk(/close/i.test(res.headers.connection ?? ''), 'no Connection: close on an HTTP/1.1 response');
  }
  const poll = await conn.get('/poll?client=keepalive-1');
  t.equal(expectPollResponse(t, poll).cursor, id, 'a poll on the same connection works');
  const after = await conn.get('/health');
  t.equal(after.status, 200, 'the connection stays open after a poll response');
  t.notOk(conn.isClosed, 'still open');
});

t.test('§1 pipelining: requests in one write are answered in order', async (t) => {
  await t.test('three requests in one write', async (t) => {
    const conn = await RawHttpConnection.open(port, t);
    conn.write(loadFixture('pipelined-three.http'));
    const first = await conn.readResponse();
    const second = await conn.readResponse();
    const third = await conn.readResponse({ head: true });
    t.equal(first.status, 200);
    t.equal(first.text, 'ok');
    expectJsonError(t, second, 404);
    t.equal(third.status, 200);
    t.equal(third.headers['content-length'], '2');
    // Stray bytes after the three would be read before the answer to a fourth request.
    const fourth = await conn.get('/health');
    t.same([fourth.status, fourth.text, conn.pending.length], [200, 'ok', 0], 'no bytes beyond the three responses');
  });
  await t.test('a request pipelined behind a held poll waits for the poll answer', async (t) => {
    const conn = await RawHttpConnection.open(port, t);
    const sent = Date.now();
    conn.write(requestBytes('GET', '/poll?client=pipelined-held') + requestBytes('GET', '/health'));
    await waitFor('the poll to be held', async () => (await app.status('pipelined-held')).connected);
    const id = await app.sendTo('pipelined-held', 'wake');
    // Had /health been answered while the poll was held, its answer would be read here first.
    const poll = await conn.readResponse();
    const body = expectPollResponse(t, poll);
    t.equal(body.cursor, id);
    t.same(body.messages, ['wake']);
    t.ok(poll.receivedAt - sent < POLL_TIMEOUT_S * 1000, 'the poll was answered by the send, not the timeout');
    const health = await conn.readResponse();
    t.equal(health.status, 200, 'the pipelined /health comes second');
    t.equal(health.text, 'ok');
  });
});

t.test('§1 pipelining: 1,000 requests in one write are all answered, in order', async (t) => {
  const conn = await RawHttpConnection.open(port, t);
  const count = 1000;
  let bytes = '';
  for (let i = 0; i < count; i++) bytes += requestBytes('GET', i % 2 === 0 ? '/health' : `/nope-${i}`);
  t.ok(bytes.length > 30_000, `${bytes.length} bytes, more than one read's worth`);
  conn.write(bytes);
  let wrong = 0;
  for (let i = 0; i < count; i++) {
    const res = await conn.readResponse();
    const expected = i % 2 === 0 ? 200 : 404;
    if (res.status !== expected && wrong++ < 3) t.fail(`response ${i} is ${res.status}, expected ${expected}`);
  }
  t.equal(wrong, 0, 'every response in request order');
});

t.test('§1 a head split over many small writes is served', async (t) => {
  const conn = await RawHttpConnection.open(port, t);
  const bytes = requestBytes('GET', '/health', { 'X-Split': 'yes' });
  for (let i = 0; i < bytes.length; i += 3) {
    // Pacing, not waiting: the server (another process) then mostly reads the
    // pieces one by one. The answer does not depend on how they are grouped.
    await conn.send(bytes.slice(i, i + 3));
    await sleep(2);
  }
  const res = await conn.readResponse();
  t.equal(res.status, 200);
  t.equal(res.text, 'ok');
});

t.test('§1 Connection: close is honoured', async (t) => {
  const cases: Array<[string, Buffer]> = [
    ['Connection: close', loadFixture('connection-close.http')],
    ['connection: CLOSE (case-insensitive)', Buffer.from(requestBytes('GET', '/health', { connection: 'CLOSE' }))],
    ['HTTP/1.0 without keep-alive', loadFixture('http10-health.http')],
  ];
  for (const [name, bytes] of cases) {
    await t.test(name, async (t) => {
      const conn = await RawHttpConnection.open(port, t);
      conn.write(bytes);
      const res = await conn.readResponse();
      t.equal(res.status, 200);
      t.equal(res.text, 'ok');
      t.ok(await conn.waitClosed(), 'the server closes the connection after the response');
    });
  }
});

t.test('§1 timeouts', async (t) => {
  // All scenarios run at once; each subtest then checks its own outcome. Each
  // start time is taken before the client acts (connects, sends), so the
  // server's clock cannot have started earlier and the lower bounds hold on a
  // loaded machine. The upper bounds are generous: a timeout honoured within
  // seconds, not a measurement of how late.
  const GENEROUS_MS = 8000;
  const closedAfter = (closed: { at: number } | undefined, start: number): number | undefined =>
    closed === undefined ? undefined : closed.at - start;
  const silent = awaitLater((async () => {
    const start = Date.now();
    const conn = await RawHttpConnection.open(port, t);
    return { elapsed: closedAfter(await conn.waitClosed(HEAD_TIMEOUT_S * 1000 + GENEROUS_MS), start) };
  })());
  const halfHead = awaitLater((async () => {
    const start = Date.now();
    const conn = await RawHttpConnection.open(port, t);
    conn.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    return { elapsed: closedAfter(await conn.waitClosed(HEAD_TIMEOUT_S * 1000 + GENEROUS_MS), start) };
  })());
  const trickle = awaitLater((async () => {
    // One byte every 100 ms (a slow client, paced by a timer on purpose): the
    // head never completes, but bytes keep coming until the server closes.
    const start = Date.now();
    const conn = await RawHttpConnection.open(port, t);
    const head = `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'s'.repeat(100)}`;
    for (let i = 0; i < head.length && !conn.isClosed && Date.now() - start < HEAD_TIMEOUT_S * 1000 + GENEROUS_MS; i++) {
      conn.write(head[i] as string);
      await sleep(100);
    }
    return { elapsed: closedAfter(await conn.waitClosed(0), start), trickled: Date.now() - start };
  })());
  const idle = awaitLater((async () => {
    const conn = await RawHttpConnection.open(port, t);
    const start = Date.now();
    const res = await conn.get('/health');
    return { status: res.status, elapsed: closedAfter(await conn.waitClosed(KEEPALIVE_TIMEOUT_S * 1000 + GENEROUS_MS), start) };
  })());
  const held = awaitLater((async () => {
    const conn = await RawHttpConnection.open(port, t);
    const start = Date.now();
    const res = await conn.get('/poll?client=held-past-other-timeouts', {}, { timeoutMs: POLL_TIMEOUT_S * 1000 + GENEROUS_MS });
    return { res, elapsed: res.receivedAt - start };
  })());

  await t.test('a connection that sends nothing is closed after --head-timeout', async (t) => {
    const { elapsed } = await silent;
    t.ok(elapsed !== undefined, 'closed');
    t.ok(elapsed !== undefined && elapsed >= HEAD_TIMEOUT_S * 1000 - 10, `not before the timeout (${elapsed} ms after the connect)`);
  });
  await t.test('a connection that sends half a head is closed after --head-timeout', async (t) => {
    const { elapsed } = await halfHead;
    t.ok(elapsed !== undefined, 'closed');
    t.ok(elapsed !== undefined && elapsed >= HEAD_TIMEOUT_S * 1000 - 10, `not before the timeout (${elapsed} ms after the connect)`);
  });
  await t.test('a head trickled a byte at a time is closed --head-timeout after its first byte', async (t) => {
    const { elapsed, trickled } = await trickle;
    t.ok(elapsed !== undefined, `closed while bytes were still arriving (after ${trickled} ms of them)`);
    t.ok(elapsed !== undefined && elapsed >= HEAD_TIMEOUT_S * 1000 - 10, `not before the timeout (${elapsed} ms after the connect)`);
  });
  await t.test('an idle keep-alive connection is closed after --keepalive-timeout', async (t) => {
    const { status, elapsed } = await idle;
    t.equal(status, 200);
    t.ok(elapsed !== undefined, 'closed');
    t.ok(elapsed !== undefined && elapsed >= KEEPALIVE_TIMEOUT_S * 1000 - 10, `not before the timeout (${elapsed} ms after the request)`);
  });
  await t.test('a held poll outlives the head and keep-alive timeouts and ends at --poll-timeout', async (t) => {
    const { res, elapsed } = await held;
    expectEmptyPoll(t, res, 0);
    t.ok(elapsed >= POLL_TIMEOUT_S * 1000 - 10, `held for the poll timeout (${elapsed} ms after the request)`);
  });
});
