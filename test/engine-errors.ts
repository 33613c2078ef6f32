// What the engine answers on its own, without JavaScript: malformed requests
// (400), oversized heads (431), and connections that never complete a head.
import t from 'tap';
import { EngineHarness, echoHandler } from './fixtures/engine-harness.js';
import { RawHttpConnection, requestBytes } from './helpers/http-client.js';

t.test('a malformed request gets 400 with a JSON body, then the connection closes', async (t) => {
  const h = EngineHarness.start(t, {}, echoHandler);
  const inputs: Array<[string, string]> = [
    ['a bad request line', 'GET\r\n\r\n'],
    ['a bad header name', 'GET / HTTP/1.1\r\nBad Name: x\r\n\r\n'],
    ['an unsupported version', 'GET / HTTP/2.0\r\n\r\n'],
  ];
  for (const [name, bytes] of inputs) {
    t.test(name, async (t) => {
      const conn = await RawHttpConnection.open(h.port, t);
      conn.write(bytes);
      const res = await conn.readResponse();
      t.equal(res.status, 400);
      t.equal(res.headers.connection, 'close');
      t.equal(res.headers['access-control-allow-origin'], '*', 'errors carry CORS too');
      t.equal(res.headers['content-type'], 'application/json; charset=utf-8');
      const body = JSON.parse(res.text) as { error: string; message: string };
      t.equal(body.error, 'bad_request');
      t.type(body.message, 'string');
      const closed = await conn.waitClosed(3000);
      t.ok(closed, 'closed by the server');
      t.equal(closed?.errorCode, undefined, 'a clean close: the 400 is not lost to a reset');
    });
  }
  t.test('no request reached JavaScript and the count of bad requests went up', async (t) => {
    t.equal(h.pending.length, 0);
    t.equal(h.engine.stats().badRequests, inputs.length);
  });
});

t.test('a request head over 8 KiB gets 431, then the connection closes', async (t) => {
  const h = EngineHarness.start(t, {}, echoHandler);

  t.test('sent in one write', async (t) => {
    const conn = await RawHttpConnection.open(h.port, t);
    conn.write(`GET / HTTP/1.1\r\nX-Big: ${'a'.repeat(9000)}\r\n\r\n`);
    const res = await conn.readResponse();
    t.equal(res.status, 431);
    t.equal(JSON.parse(res.text).error, 'headers_too_large');
    const closed = await conn.waitClosed(3000);
    t.ok(closed, 'closed');
    t.equal(closed?.errorCode, undefined, 'a clean close: the 431 is not lost to a reset');
  });

  t.test('trickled in small pieces', async (t) => {
    const conn = await RawHttpConnection.open(h.port, t);
    conn.write('GET / HTTP/1.1\r\n');
    for (let i = 0; i < 10; i++) {
      conn.write(`X-Part-${i}: ${'b'.repeat(1000)}\r\n`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const res = await conn.readResponse();
    t.equal(res.status, 431);
    t.ok(await conn.waitClosed(3000), 'closed');
  });

  t.test('a head of exactly 8192 bytes is still accepted', async (t) => {
    const conn = await RawHttpConnection.open(h.port, t);
    const start = 'GET /exact HTTP/1.1\r\nX-Pad: ';
    const pad = 8192 - start.length - 4;
    conn.write(`${start}${'c'.repeat(pad)}\r\n\r\n`);
    t.equal((await conn.readResponse()).text, '1 /exact');
  });
});

t.test('head timeout', async (t) => {
  const h = EngineHarness.start(t, { headTimeoutMs: 300 }, echoHandler);

  t.test('a connection that sends nothing is closed after headTimeoutMs', async (t) => {
    const conn = await RawHttpConnection.open(h.port, t);
    const started = Date.now();
    const closed = await conn.waitClosed(3000);
    t.ok(closed, 'closed by the server');
    const after = (closed?.at ?? 0) - started;
    t.ok(after >= 250 && after < 1500, `closed about 300 ms after accept (${after} ms)`);
  });

  t.test('a head left incomplete is closed headTimeoutMs after its first byte, without an answer', async (t) => {
    const conn = await RawHttpConnection.open(h.port, t);
    await new Promise((r) => setTimeout(r, 200));
    const firstByte = Date.now();
    conn.write('GET /slow HTTP/1.1\r\nHost: x\r\n');
    const closed = await conn.waitClosed(3000);
    t.ok(closed, 'closed');
    const after = (closed?.at ?? 0) - firstByte;
    t.ok(after >= 250, `the clock restarted at the first byte (${after} ms after it)`);
    t.equal(conn.pending.length, 0, 'nothing was written back');
  });

  t.test('a head completed in time is served', async (t) => {
    const conn = await RawHttpConnection.open(h.port, t);
    conn.write('GET /in-time HTTP/1.1\r\n');
    await new Promise((r) => setTimeout(r, 100));
    conn.write('\r\n');
    t.equal((await conn.readResponse()).text, '1 /in-time');
  });

  t.test('the engine is left with no connections', async (t) => {
    for (let i = 0; i < 100 && h.engine.stats().connections > 1; i++) await new Promise((r) => setTimeout(r, 20));
    t.ok(h.engine.stats().connections <= 1, 'only the last (kept-alive) connection may remain');
  });
});

t.test('garbage at any point of a keep-alive connection gets 400 after the good answers', async (t) => {
  const h = EngineHarness.start(t, {}, echoHandler);
  const conn = await RawHttpConnection.open(h.port, t);
  conn.write(requestBytes('GET', '/good') + 'NOT HTTP AT ALL\r\n\r\n');
  t.equal((await conn.readResponse()).text, '1 /good');
  t.equal((await conn.readResponse()).status, 400);
  t.ok(await conn.waitClosed(3000), 'closed');
});
