// PROTOCOL.md section 1, "Other requests and limits": which request-targets
// are served and which line ends a head may use, end to end on the real
// server. An absolute-form target (RFC 9112 3.2.2) is routed exactly as its
// origin-form; a target of no accepted form, or a bare LF anywhere in the
// head, is malformed: 400 and the connection closed.
import t from 'tap';
import type { Test } from 'tap';
import { AppConnection } from './helpers/app-client.js';
import { expectCors, expectJsonError, expectPollResponse } from './helpers/expect.js';
import { RawHttpConnection, requestBytes } from './helpers/http-client.js';
import { startServer } from './helpers/server.js';

const server = await startServer(t, ['--threads', '2', '--poll-timeout', '2']);
const port = server.httpPort;
const app = await AppConnection.open(server.appPort, t);

/** Writes `bytes`, expects the JSON 400, then the server closing the connection with nothing more. */
async function expectBadRequestAndClose(t: Test, bytes: string | Buffer): Promise<void> {
  const conn = await RawHttpConnection.open(port, t);
  conn.write(bytes);
  expectJsonError(t, await conn.readResponse(), 400);
  t.ok(await conn.waitClosed(3000), 'the server closes the connection after the 400');
  t.equal(conn.pending.length, 0, 'nothing follows the 400');
}

t.test('§1 an absolute-form /health is served as /health', async (t) => {
  const targets = [
    `http://127.0.0.1:${port}/health`,
    'HTTP://ELSEWHERE.EXAMPLE/health',
    'https://h/health',
    'hTtP://h:1/health?x=1',
  ];
  for (const target of targets) {
    await t.test(`GET ${target}`, async (t) => {
      const conn = await RawHttpConnection.open(port, t);
      const res = await conn.get(target);
      t.equal(res.status, 200, `answered 200 (got ${res.status} ${res.text})`);
      t.equal(res.text, 'ok');
      expectCors(t, res);
      const next = await conn.get('/health');
      t.equal(next.status, 200, 'the connection stays open for the next request');
    });
  }
  await t.test('HEAD http://h/health', async (t) => {
    const conn = await RawHttpConnection.open(port, t);
    const res = await conn.request('HEAD', 'http://h/health');
    t.equal(res.status, 200);
    t.equal(res.headers['content-length'], '2');
  });
  await t.test('without a Host header', async (t) => {
    const conn = await RawHttpConnection.open(port, t);
    conn.write('GET http://h/health HTTP/1.1\r\n\r\n');
    const res = await conn.readResponse();
    t.equal(res.status, 200);
    t.equal(res.text, 'ok');
  });
});

t.test('§1 an absolute-form /poll is served as /poll', async (t) => {
  await t.test('GET https://h/poll?client=... gets the queued message', async (t) => {
    const id = await app.sendTo('absolute-form-1', 'hello');
    const conn = await RawHttpConnection.open(port, t);
    const body = expectPollResponse(t, await conn.get('https://h/poll?client=absolute-form-1'));
    t.equal(body.cursor, id);
    t.same(body.messages, ['hello']);
  });
  await t.test('OPTIONS http://h/poll is the preflight', async (t) => {
    const conn = await RawHttpConnection.open(port, t);
    const res = await conn.request('OPTIONS', 'http://h/poll', { 'Access-Control-Request-Headers': 'x-a' });
    t.equal(res.status, 204, `preflight answered 204 (got ${res.status} ${res.text})`);
    t.equal(res.headers['access-control-allow-headers'], 'x-a');
  });
  await t.test('POST http://h/poll is 405 like POST /poll', async (t) => {
    const conn = await RawHttpConnection.open(port, t);
    expectJsonError(t, await conn.request('POST', 'http://h/poll?client=a', { 'Content-Length': '0' }), 405);
  });
});

t.test('§1 an absolute-form target with another path routes like that path', async (t) => {
  // "http://h" and "http://h?x=1" are "/" and "/?x=1": no such path, but not malformed.
  for (const target of ['http://h', 'http://h?client=a', 'http://h/nope', 'http://h/health/']) {
    await t.test(`GET ${target}`, async (t) => {
      const conn = await RawHttpConnection.open(port, t);
      expectJsonError(t, await conn.get(target), 404);
      const next = await conn.get('/health');
      t.equal(next.status, 200, 'the connection stays open');
    });
  }
});

t.test('§1 a target that is neither origin-form nor absolute-form is 400 and close', async (t) => {
  const targets = ['health', 'poll?client=a', '?client=a', 'ftp://h/health', 'http:/h/health', 'http:///health', '*', 'h:80'];
  for (const target of targets) {
    await t.test(`GET ${target}`, (t) => expectBadRequestAndClose(t, requestBytes('GET', target)));
  }
  await t.test('OPTIONS * is not malformed', async (t) => {
    const conn = await RawHttpConnection.open(port, t);
    const res = await conn.request('OPTIONS', '*');
    t.not(res.status, 400, `not a 400 (got ${res.status})`);
    t.equal((await conn.get('/health')).status, 200, 'the connection stays open');
  });
});

t.test('§1 a bare LF in the head is 400 and close', async (t) => {
  const heads: Array<[string, string]> = [
    ['LF-only line ends', 'GET /health HTTP/1.1\nHost: 127.0.0.1\n\n'],
    ['LF-only HTTP/1.0', 'GET /health HTTP/1.0\n\n'],
    ['a bare LF ending the request line', 'GET /health HTTP/1.1\nHost: 127.0.0.1\r\n\r\n'],
    ['a bare LF ending a header line', 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\nX-A: 1\r\n\r\n'],
    ['a bare LF as the blank line', 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\n'],
    ['a bare LF before the request line', '\nGET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'],
  ];
  for (const [name, head] of heads) {
    await t.test(name, (t) => expectBadRequestAndClose(t, head));
  }
  await t.test('a bare LF between two pipelined requests: the first is served, then 400 and close', async (t) => {
    const conn = await RawHttpConnection.open(port, t);
    conn.write(`${requestBytes('GET', '/health')}\n${requestBytes('GET', '/health')}`);
    const first = await conn.readResponse();
    t.equal(first.status, 200, 'the complete first request is served');
    expectJsonError(t, await conn.readResponse(), 400);
    t.ok(await conn.waitClosed(3000), 'the server closes the connection after the 400');
    t.equal(conn.pending.length, 0, 'the second request is never answered');
  });
  await t.test('a CRLF before the request line is still skipped', async (t) => {
    const conn = await RawHttpConnection.open(port, t);
    conn.write(`\r\n\r\n${requestBytes('GET', '/health')}`);
    const res = await conn.readResponse();
    t.equal(res.status, 200);
    t.equal(res.text, 'ok');
  });
});
