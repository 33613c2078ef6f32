// PROTOCOL.md section 1, what a poll answer looks like: the JSON response, the
// cursor, JSONP (body shape, headers, U+2028/U+2029, wrapped errors), the
// OPTIONS preflight and CORS on every response.
import t, { type Test } from 'tap';
import { AppConnection } from './helpers/app-client.js';
import { expectCors, expectEmptyPoll, expectJsonError, expectPollResponse, show } from './helpers/expect.js';
import { loadFixture } from './helpers/fixtures.js';
import { RawHttpConnection, type HttpResponse } from './helpers/http-client.js';
import { runJsonp } from './helpers/poll.js';
import { startServer } from './helpers/server.js';

const POLL_TIMEOUT_S = 1;
const server = await startServer(t, ['--threads', '2', '--poll-timeout', String(POLL_TIMEOUT_S)]);
const port = server.httpPort;
const app = await AppConnection.open(server.appPort, t);

async function get(t: Test, target: string, headers: Record<string, string> = {}): Promise<HttpResponse> {
  const conn = await RawHttpConnection.open(port, t);
  const res = await conn.get(target, headers);
  conn.destroy();
  return res;
}

/** §1: `/**\/FN(...);` with the JSONP headers; returns the argument FN gets. */
function expectJsonp(t: Test, res: HttpResponse, callback: string): unknown {
  t.equal(res.status, 200, `JSONP answered 200 (got ${res.status} ${show(res.text)})`);
  t.equal(res.headers['content-type'], 'application/javascript; charset=utf-8', 'Content-Type: application/javascript; charset=utf-8');
  t.equal(res.headers['x-content-type-options'], 'nosniff', 'X-Content-Type-Options: nosniff');
  t.equal(res.headers['cache-control'], 'no-store', 'Cache-Control: no-store');
  t.equal(res.headers['content-length'], String(res.body.length), 'Content-Length matches the body');
  expectCors(t, res);
  t.ok(res.text.startsWith(`/**/${callback}(`), `body starts with /**/${callback}( : ${show(res.text, 40)}`);
  t.ok(res.text.endsWith(');'), 'body ends with );');
  return runJsonp(res.text, callback);
}

t.test('§1 response: a poll with messages is 200 JSON with no-store, Content-Length and CORS', async (t) => {
  const id = await app.sendTo('format-1', { hello: 'world' });
  const res = await get(t, '/poll?client=format-1');
  t.equal(res.version, 'HTTP/1.1');
  const body = expectPollResponse(t, res);
  t.equal(body.cursor, id, 'cursor is the id of the message');
  t.same(body.messages, [{ hello: 'world' }]);
});

t.test('§1 response: cursor is the id of the last message in messages', async (t) => {
  const ids = [await app.sendTo('format-2', 1), await app.sendTo('format-2', 2), await app.sendTo('format-2', 3)];
  const body = expectPollResponse(t, await get(t, '/poll?client=format-2&since=0'));
  t.same(body.messages, [1, 2, 3], 'all queued messages, in send order');
  t.equal(body.cursor, ids[2]);
});

t.test('§1 response: an empty answer at the poll timeout echoes since', async (t) => {
  const start = Date.now();
  const res = await get(t, '/poll?client=format-3&since=41');
  expectEmptyPoll(t, res, 41);
  t.ok(Date.now() - start >= POLL_TIMEOUT_S * 1000 - 200, 'held until the poll timeout');
});

t.test('§1 JSONP: the body is /**/FN({...}); with the JSONP headers', async (t) => {
  await t.test('an empty answer', async (t) => {
    const res = await get(t, '/poll?client=jsonp-1&since=9&callback=cb');
    t.equal(res.text, '/**/cb({"cursor":9,"messages":[]});', 'the exact body for an empty answer');
    t.same(expectJsonp(t, res, 'cb'), { cursor: 9, messages: [] });
  });
  await t.test('an answer with messages', async (t) => {
    const id = await app.sendTo('jsonp-2', { n: [1, 2] });
    const value = expectJsonp(t, await get(t, '/poll?client=jsonp-2&callback=my.ns.cb'), 'my.ns.cb');
    t.same(value, { cursor: id, messages: [{ n: [1, 2] }] });
  });
});

t.test('§1 JSONP: U+2028 and U+2029 are escaped inside JSONP only', async (t) => {
  const data = { text: 'line\u2028separator\u2029paragraph', ['key\u2028']: '\u2029' };
  // JSON.stringify leaves U+2028/U+2029 raw, so the app line carries the raw characters.
  const line = JSON.stringify({ op: 'send', client: 'u2028', data });
  t.ok(line.includes('\u2028'), 'the app sends the raw characters');
  app.writeRaw(`${line}\n`);
  const reply = await app.readReply();
  t.equal(reply.ok, true);

  const js = await get(t, '/poll?client=u2028&since=0&callback=cb');
  t.notOk(js.text.includes('\u2028'), 'no raw U+2028 in the JSONP body');
  t.notOk(js.text.includes('\u2029'), 'no raw U+2029 in the JSONP body');
  t.ok(js.text.includes('\\u2028') && js.text.includes('\\u2029'), 'both are written as \\u escapes');
  t.same(expectJsonp(t, js, 'cb'), { cursor: reply.id, messages: [data] }, 'the script still yields the same value');

  const plain = await get(t, '/poll?client=u2028&since=0');
  const body = expectPollResponse(t, plain);
  t.same(body.messages, [data], 'the plain JSON answer carries the same value');
  t.ok(plain.text.includes('\u2028') && plain.text.includes('\u2029'), 'the plain JSON body keeps the characters as the app sent them');
});

t.test('§1 JSONP errors: a 400 with one valid callback is a 200 JSONP body carrying the status', async (t) => {
  const targets = [
    '/poll?callback=cb',
    '/poll?client=a.b&callback=cb',
    '/poll?client=jsonp-err&since=007&callback=cb',
    '/poll?client=jsonp-err&since=9007199254740992&callback=cb',
    '/poll?client=one&client=two&callback=cb',
    '/poll?client=a%zz&callback=cb',
  ];
  for (const target of targets) {
    await t.test(target, async (t) => {
      const value = expectJsonp(t, await get(t, target), 'cb') as { error?: unknown; message?: unknown; status?: unknown };
      t.equal(value.status, 400, 'status 400 inside the body');
      t.type(value.error, 'string');
      t.type(value.message, 'string');
    });
  }
});

t.test('§1 JSONP errors: an invalid or repeated callback gets a plain 400', async (t) => {
  const cases: Array<[string, string[]]> = [
    ['/poll?client=a.b&callback=bad-name', ['bad-name']],
    ['/poll?client=ok-client&callback=bad-name', ['bad-name']],
    ['/poll?client=ok-client&callback=cbOne&callback=cbTwo', ['cbOne', 'cbTwo']],
    ['/poll?callback=%3Cscript%3E', ['<script>', '%3Cscript%3E']],
  ];
  for (const [target, absent] of cases) {
    await t.test(target, async (t) => {
      const res = await get(t, target);
      expectJsonError(t, res, 400);
      const raw = res.raw.toString('latin1');
      for (const word of absent) t.notOk(raw.includes(word), `${JSON.stringify(word)} appears nowhere in the response`);
    });
  }
});

t.test('§1 JSONP errors: only GET /poll is wrapped', async (t) => {
  await t.test('404 stays a plain 404', async (t) => {
    expectJsonError(t, await get(t, '/nope?client=a&callback=cb'), 404);
  });
  await t.test('405 stays a plain 405', async (t) => {
    const conn = await RawHttpConnection.open(port, t);
    expectJsonError(t, await conn.request('POST', '/poll?client=a&callback=cb', { 'Content-Length': '0' }), 405);
  });
});

t.test('§1 OPTIONS: a 204 preflight answer', async (t) => {
  await t.test('echoes Access-Control-Request-Headers', async (t) => {
    const conn = await RawHttpConnection.open(port, t);
    conn.write(loadFixture('preflight-poll.http'));
    const res = await conn.readResponse();
    t.equal(res.status, 204);
    t.equal(res.headers['access-control-allow-methods'], 'GET, OPTIONS');
    t.equal(res.headers['access-control-allow-headers'], 'X-Requested-With, Content-Type');
    t.match(res.headers['access-control-max-age'] ?? '', /^\d+$/, 'Access-Control-Max-Age is a number of seconds');
    expectCors(t, res);
    t.equal(res.body.length, 0, 'no body');
    const next = await conn.get('/health');
    t.equal(next.status, 200, 'the connection is usable after the 204');
    t.equal(next.text, 'ok');
  });
  await t.test('a lower-case header name is echoed too', async (t) => {
    const conn = await RawHttpConnection.open(port, t);
    const res = await conn.request('OPTIONS', '/poll', { 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-custom' });
    t.equal(res.status, 204);
    t.equal(res.headers['access-control-allow-headers'], 'x-custom');
  });
  await t.test('without Access-Control-Request-Headers', async (t) => {
    const conn = await RawHttpConnection.open(port, t);
    const res = await conn.request('OPTIONS', '/poll?client=x', { Origin: 'https://app.example' });
    t.equal(res.status, 204);
    t.equal(res.headers['access-control-allow-methods'], 'GET, OPTIONS');
    t.match(res.headers['access-control-max-age'] ?? '', /^\d+$/);
    expectCors(t, res);
  });
});

t.test('§1 cross-origin: every response carries Access-Control-Allow-Origin', async (t) => {
  const conn = await RawHttpConnection.open(port, t);
  await app.sendTo('cors-1', 'x');
  const responses: Array<[string, HttpResponse]> = [
    ['poll 200', await conn.get('/poll?client=cors-1')],
    ['JSONP 200', await conn.get('/poll?client=cors-1&callback=cb')],
    ['health 200', await conn.get('/health')],
    ['health HEAD', await conn.request('HEAD', '/health')],
    ['400', await get(t, '/poll?client=a.b')],
    ['404', await get(t, '/missing')],
    ['405', await (await RawHttpConnection.open(port, t)).request('DELETE', '/health')],
    ['204', await (await RawHttpConnection.open(port, t)).request('OPTIONS', '/poll')],
  ];
  for (const [name, res] of responses) {
    t.equal(res.headers['access-control-allow-origin'], '*', `${name} carries Access-Control-Allow-Origin: *`);
  }
});
