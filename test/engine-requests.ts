// The engine hands complete requests to JavaScript and writes the answers: event
// contents, batching, pipelining, keep-alive and close, HEAD, request bodies.
// The addon is driven directly over real sockets; no server is involved.
import t from 'tap';
import { createServer, type AddressInfo } from 'node:net';
import { ResponseKind } from '../src/engine/binding.js';
import { EventType, Method } from '../src/engine/events.js';
import { EngineHarness, echoHandler } from './fixtures/engine-harness.js';
import { RawHttpConnection, requestBytes } from './helpers/http-client.js';

t.test('a GET is handed over as one REQUEST event', async (t) => {
  const h = EngineHarness.start(t);
  const conn = await RawHttpConnection.open(h.port, t);
  conn.write(requestBytes('GET', '/poll?client=a&since=3'));
  const ev = await h.next();
  t.equal(ev.type, EventType.Request, 'type is REQUEST');
  t.equal(ev.method, Method.Get, 'method is GET');
  t.equal(ev.target, '/poll?client=a&since=3', 'target is the raw request-target');
  t.equal(ev.acrh, '', 'no Access-Control-Request-Headers outside OPTIONS');
  t.ok(ev.gen > 0 && ev.gen < 2 ** 29, 'generation is within the handle range');
  t.equal(ev.handle, ev.gen * 2 ** 24 + ev.slot, 'handle = gen * 2^24 + slot');
  t.same(h.engine.stats(), { connections: 1, held: 0, streams: 0, accepted: 1, refused: 0, badRequests: 0 }, 'stats');

  t.ok(h.engine.respond(ev.handle, 200, ResponseKind.Json, '{"cursor":3,"messages":[]}', null), 'respond returns true');
  const res = await conn.readResponse();
  t.equal(res.status, 200);
  t.equal(res.headers['content-type'], 'application/json; charset=utf-8');
  t.equal(res.headers['cache-control'], 'no-store');
  t.equal(res.headers['access-control-allow-origin'], '*');
  t.equal(res.headers['content-length'], String(res.body.length));
  t.equal(res.headers.connection, undefined, 'HTTP/1.1 keep-alive needs no Connection header');
  t.equal(res.text, '{"cursor":3,"messages":[]}');

  t.test('the next request on the connection gets the same slot and a newer generation', async (t) => {
    conn.write(requestBytes('GET', '/health'));
    const second = await h.next();
    t.equal(second.slot, ev.slot, 'same connection slot');
    t.ok(second.gen > ev.gen, 'generation bumped');
  });
});

t.test('every method is reported with its code, and OPTIONS carries Access-Control-Request-Headers', async (t) => {
  const h = EngineHarness.start(t);
  const conn = await RawHttpConnection.open(h.port, t);
  const cases: Array<[string, number]> = [
    ['GET', Method.Get],
    ['HEAD', Method.Head],
    ['POST', Method.Post],
    ['PUT', Method.Put],
    ['DELETE', Method.Delete],
    ['PATCH', Method.Other],
  ];
  for (const [name, code] of cases) {
    conn.write(requestBytes(name, `/m/${name}`));
    const ev = await h.next();
    t.equal(ev.method, code, `${name} -> ${code}`);
    t.equal(ev.target, `/m/${name}`);
    h.answer(ev, '');
    await conn.readResponse({ head: name === 'HEAD' });
  }
  conn.write(requestBytes('OPTIONS', '/poll', { 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'x-a, x-b' }));
  const ev = await h.next();
  t.equal(ev.method, Method.Options);
  t.equal(ev.acrh, 'x-a, x-b', 'acrh carries the header value');
  t.ok(h.engine.respond(ev.handle, 204, ResponseKind.None, null, 'Access-Control-Allow-Methods: GET, OPTIONS\r\n'));
  const res = await conn.readResponse();
  t.equal(res.status, 204);
  t.equal(res.headers['content-length'], undefined, '204 has no Content-Length');
  t.equal(res.headers['content-type'], undefined, 'kind None has no Content-Type');
  t.equal(res.headers['access-control-allow-methods'], 'GET, OPTIONS', 'extra headers are written');
  t.equal(res.headers['access-control-allow-origin'], '*');
});

t.test('HEAD keeps the Content-Length of the body and omits the body', async (t) => {
  const h = EngineHarness.start(t, {}, echoHandler);
  const conn = await RawHttpConnection.open(h.port, t);
  conn.write(requestBytes('HEAD', '/health') + requestBytes('GET', '/after'));
  const head = await conn.readResponse({ head: true });
  t.equal(head.headers['content-length'], String(`${Method.Head} /health`.length));
  t.equal(head.body.length, 0);
  const after = await conn.readResponse();
  t.equal(after.text, `${Method.Get} /after`, 'the next response starts right after the head: no stray body bytes');
});

t.test('pipelined requests in one write are answered in order', async (t) => {
  const h = EngineHarness.start(t, {}, echoHandler);
  const conn = await RawHttpConnection.open(h.port, t);
  conn.write(requestBytes('GET', '/one') + requestBytes('GET', '/two') + requestBytes('GET', '/three'));
  const texts = [];
  for (let i = 0; i < 3; i++) texts.push((await conn.readResponse()).text);
  t.same(texts, ['1 /one', '1 /two', '1 /three']);

  t.test('even when the answers come late and in reverse order of readiness', async (t) => {
    h.handler = undefined;
    conn.write(requestBytes('GET', '/a') + requestBytes('GET', '/b'));
    const a = await h.next();
    t.equal(a.target, '/a');
    // Only one request per connection is outstanding: /b is not reported before /a is answered.
    await h.barrier();
    t.equal(h.pending.length, 0, 'the second request waits behind the first');
    t.ok(h.answer(a, 'A'));
    const b = await h.next();
    t.equal(b.target, '/b');
    t.ok(h.answer(b, 'B'));
    t.equal((await conn.readResponse()).text, 'A');
    t.equal((await conn.readResponse()).text, 'B');
  });
});

t.test('requests arriving together are handed over in one batch', async (t) => {
  const h = EngineHarness.start(t, {}, echoHandler);
  const conns = await Promise.all(Array.from({ length: 20 }, () => RawHttpConnection.open(h.port, t)));
  // Written back to back in one tick: the engine finds them all ready in one epoll pass.
  for (const [i, c] of conns.entries()) c.write(requestBytes('GET', `/c${i}`));
  const texts = await Promise.all(conns.map(async (c) => (await c.readResponse()).text));
  t.same(texts, conns.map((_, i) => `1 /c${i}`), 'every connection got its own answer');
  t.ok(Math.max(...h.batches) > 1, `one callback carried several requests (batches: ${h.batches.join(',')})`);
  t.ok(h.batches.length < 20, 'fewer callbacks than requests');
});

t.test('more events than the 256 KiB buffer holds are handed over in several calls, none lost', async (t) => {
  const h = EngineHarness.start(t, {}, echoHandler);
  const target = `/${'t'.repeat(1200)}`;
  const conns = await Promise.all(Array.from({ length: 300 }, () => RawHttpConnection.open(h.port, t)));
  // 300 records of about 1.2 KiB become ready together: the buffer fills, is
  // handed over (and answered) mid-iteration, and the engine carries on.
  for (const [i, c] of conns.entries()) c.write(requestBytes('GET', `${target}?${i}`));
  const texts = await Promise.all(conns.map(async (c) => (await c.readResponse()).text));
  t.same(texts, conns.map((_, i) => `1 ${target}?${i}`), 'every request answered on its own connection');
  t.equal(h.batches.reduce((a, b) => a + b, 0), 300, 'each request reported once');
  t.ok(h.batches.length >= 2, `in several calls (${h.batches.join(',')})`);
});

t.test('keep-alive and close', async (t) => {
  const h = EngineHarness.start(t, {}, echoHandler);

  t.test('HTTP/1.1 stays open across requests', async (t) => {
    const conn = await RawHttpConnection.open(h.port, t);
    for (let i = 0; i < 4; i++) t.equal((await conn.get(`/k${i}`)).text, `1 /k${i}`, `request ${i + 1} on the same connection`);
    t.notOk(conn.isClosed, 'still open');
  });

  t.test('Connection: close is answered with Connection: close, then the server closes', async (t) => {
    const conn = await RawHttpConnection.open(h.port, t);
    const res = await conn.get('/bye', { Connection: 'close' });
    t.equal(res.headers.connection, 'close');
    const closed = await conn.waitClosed();
    t.ok(closed, 'closed by the server');
    t.equal(closed?.errorCode, undefined, 'a clean close, not a reset');
  });

  t.test('HTTP/1.0 closes by default', async (t) => {
    const conn = await RawHttpConnection.open(h.port, t);
    conn.write('GET /old HTTP/1.0\r\n\r\n');
    const res = await conn.readResponse();
    t.equal(res.text, '1 /old');
    t.equal(res.headers.connection, 'close');
    t.ok(await conn.waitClosed(), 'closed by the server');
  });

  t.test('HTTP/1.0 with Connection: keep-alive is kept alive and told so', async (t) => {
    const conn = await RawHttpConnection.open(h.port, t);
    conn.write('GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    const res = await conn.readResponse();
    t.equal(res.headers.connection, 'keep-alive');
    conn.write('GET /k2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    t.equal((await conn.readResponse()).text, '1 /k2', 'a second request on the same connection');
  });

  t.test('a keep-alive connection idle past keepAliveTimeoutMs is closed', async (t) => {
    const short = EngineHarness.start(t, { keepAliveTimeoutMs: 300 }, echoHandler);
    const conn = await RawHttpConnection.open(short.port, t);
    // Before the request: the engine's idle clock cannot start before this.
    const started = Date.now();
    await conn.get('/x');
    const closed = await conn.waitClosed();
    t.ok(closed, 'closed');
    const after = (closed?.at ?? 0) - started;
    t.ok(after >= 290, `not before the timeout (${after} ms after the request was sent)`);
    t.equal(short.engine.stats().connections, 0);
  });
});

t.test('request bodies are read and dropped; the next request is parsed after them', async (t) => {
  const h = EngineHarness.start(t, {}, echoHandler);
  const conn = await RawHttpConnection.open(h.port, t);
  const body = 'x'.repeat(5000);
  conn.write(`POST /p HTTP/1.1\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 100)}`);
  t.equal((await conn.readResponse()).text, `${Method.Post} /p`, 'answered before the body is complete');
  // The rest of the body, then a pipelined request, in separate reads.
  await conn.send(body.slice(100, 3000));
  await h.barrier(); // the engine has read the middle of the body on its own
  conn.write(body.slice(3000) + requestBytes('GET', '/next'));
  t.equal((await conn.readResponse()).text, '1 /next', 'the body did not leak into the next request');
});

t.test('a body over 64 KiB gets 413 and a close', async (t) => {
  const h = EngineHarness.start(t, {}, echoHandler);
  const conn = await RawHttpConnection.open(h.port, t);
  conn.write(`POST /p HTTP/1.1\r\nContent-Length: ${64 * 1024 + 1}\r\n\r\n`);
  const res = await conn.readResponse();
  t.equal(res.status, 413);
  t.equal(JSON.parse(res.text).error, 'payload_too_large');
  t.ok(await conn.waitClosed(), 'closed');
  t.equal(h.engine.stats().badRequests, 1);
});

t.test('Transfer-Encoding in a request gets 501 and a close', async (t) => {
  const h = EngineHarness.start(t, {}, echoHandler);
  const conn = await RawHttpConnection.open(h.port, t);
  conn.write('POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
  const res = await conn.readResponse();
  t.equal(res.status, 501);
  t.equal(res.headers.connection, 'close');
  t.equal(JSON.parse(res.text).error, 'not_implemented');
  t.ok(await conn.waitClosed(), 'closed');
});

t.test('a response body may be a string, a Buffer, a view of a SharedArrayBuffer, or null', async (t) => {
  const h = EngineHarness.start(t);
  const conn = await RawHttpConnection.open(h.port, t);
  const shared = new Uint8Array(new SharedArrayBuffer(32));
  shared.set(Buffer.from('..shared-bytes..'), 0);
  const bodies: Array<[string | Uint8Array | null, string]> = [
    ['grüße ✓', 'grüße ✓'],
    [Buffer.from('buffer body'), 'buffer body'],
    [shared.subarray(2, 14), 'shared-bytes'],
    [null, ''],
  ];
  for (const [body, want] of bodies) {
    conn.write(requestBytes('GET', '/b'));
    const ev = await h.next();
    t.ok(h.engine.respond(ev.handle, 200, ResponseKind.Text, body, null));
    const res = await conn.readResponse();
    t.equal(res.text, want);
    t.equal(res.headers['content-length'], String(Buffer.byteLength(want)), 'Content-Length counts bytes');
  }

  t.test('bad arguments are programming errors and throw', async (t) => {
    conn.write(requestBytes('GET', '/b'));
    const ev = await h.next();
    const respond = h.engine.respond.bind(h.engine) as (...args: unknown[]) => boolean;
    t.throws(() => respond('1', 200, ResponseKind.Text, null, null), TypeError, 'a handle that is not a number');
    t.throws(() => respond(1.5, 200, ResponseKind.Text, null, null), TypeError, 'a fractional handle');
    t.throws(() => respond(ev.handle, 99, ResponseKind.Text, null, null), RangeError, 'a status below 100');
    t.throws(() => respond(ev.handle, 200, 9, null, null), RangeError, 'an unknown kind');
    t.throws(() => respond(ev.handle, 200, ResponseKind.Text, 42, null), TypeError, 'a number body');
    t.throws(() => respond(ev.handle, 200, ResponseKind.Text, null, 'X-A: 1'), TypeError, 'a header line without CRLF');
    t.ok(respond(ev.handle, 200, ResponseKind.Text, 'still fine', null), 'the request is still answerable');
    t.equal((await conn.readResponse()).text, 'still fine');
  });
});

t.test('engine options are checked at construction', async (t) => {
  const { Engine } = (await import('../src/engine/binding.js')).loadAddon();
  const base = { host: '127.0.0.1', port: 0, backlog: 511, maxConnections: 10, headTimeoutMs: 1000, keepAliveTimeoutMs: 1000, corsOrigin: '*' };
  const cb = (): void => undefined;
  t.throws(() => new Engine({ ...base, port: 70000 }, cb), /options\.port must be an integer from 0 to 65535, got 70000/);
  t.throws(() => new Engine({ ...base, corsOrigin: 'a\r\nb' }, cb), /options\.corsOrigin/);
  t.throws(() => new Engine({ ...base, headTimeoutMs: 0 }, cb), /options\.headTimeoutMs/);
  const bad = new Engine({ ...base, host: 'localhost' }, cb);
  t.throws(() => bad.listen(), /numeric IPv4 or IPv6/, 'a host name is refused at listen()');
  bad.close();
  const plain = createServer();
  await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
  const plainPort = (plain.address() as AddressInfo).port;
  const clash = new Engine({ ...base, port: plainPort }, cb);
  t.throws(() => clash.listen(), /EADDRINUSE/, 'a port held without SO_REUSEPORT: the error names errno');
  clash.close();
  plain.close();
  const h = EngineHarness.start(t);
  const taken = new Engine({ ...base, port: h.port }, cb);
  // SO_REUSEPORT lets a second engine of this process share the port (the design relies on it).
  t.equal(taken.listen(), h.port, 'a second engine can listen on the same port');
  taken.close();
  const conn = await RawHttpConnection.open(h.port, t);
  conn.write(requestBytes('GET', '/still'));
  const ev = await h.next();
  t.ok(h.answer(ev, 'served'));
  t.equal((await conn.readResponse()).text, 'served', 'the first engine still serves the port after the second closed');
});
