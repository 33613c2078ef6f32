// What the engine answers on its own, without JavaScript: malformed requests
// (400), oversized heads (431), and connections that never complete a head.
import t from 'tap';
import { EngineHarness, echoHandler } from './fixtures/engine-harness.js';
import { RawHttpConnection, requestBytes } from './helpers/http-client.js';
import { sleep, waitFor } from './helpers/wait.js';

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
      const closed = await conn.waitClosed();
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
    const closed = await conn.waitClosed();
    t.ok(closed, 'closed');
    t.equal(closed?.errorCode, undefined, 'a clean close: the 431 is not lost to a reset');
  });

  t.test('trickled in small pieces', async (t) => {
    const conn = await RawHttpConnection.open(h.port, t);
    let sent = 'GET / HTTP/1.1\r\n';
    await conn.send(sent);
    // Pieces of about 1 KiB until the head is over 8 KiB; each is read on its
    // own (the barrier returns once the engine has handled the one before).
    for (let i = 0; sent.length <= 8192; i++) {
      const piece = `X-Part-${i}: ${'b'.repeat(1000)}\r\n`;
      await h.barrier();
      t.equal(conn.pending.length, 0, `no answer before ${sent.length} bytes`);
      await conn.send(piece);
      sent += piece;
    }
    const res = await conn.readResponse();
    t.equal(res.status, 431);
    t.ok(await conn.waitClosed(), 'closed');
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
  // The lower bounds are measured from before the client acts (connects, sends
  // its first byte), so the engine's clock cannot have started earlier; the
  // upper bound is waitClosed's generous deadline.
  t.test('a connection that sends nothing is closed after headTimeoutMs', async (t) => {
    const h = EngineHarness.start(t, { headTimeoutMs: 300 }, echoHandler);
    const started = Date.now();
    const conn = await RawHttpConnection.open(h.port, t);
    const closed = await conn.waitClosed();
    t.ok(closed, 'closed by the server');
    const after = (closed?.at ?? 0) - started;
    t.ok(after >= 290, `not before 300 ms after the connect (${after} ms)`);
    await waitFor('the engine to release it', () => h.engine.stats().connections === 0);
  });

  t.test('a head left incomplete is closed headTimeoutMs after its first byte, without an answer', async (t) => {
    const h = EngineHarness.start(t, { headTimeoutMs: 1000 }, echoHandler);
    const conn = await RawHttpConnection.open(h.port, t);
    // Time passing before the first byte is what this test is about. Had the
    // clock not restarted at the first byte, the close would come 600 ms after it.
    await sleep(400);
    const firstByte = Date.now();
    conn.write('GET /slow HTTP/1.1\r\nHost: x\r\n');
    const closed = await conn.waitClosed();
    t.ok(closed, 'closed');
    const after = (closed?.at ?? 0) - firstByte;
    t.ok(after >= 990, `the clock restarted at the first byte (${after} ms after it)`);
    t.equal(conn.pending.length, 0, 'nothing was written back');
    await waitFor('the engine to release it', () => h.engine.stats().connections === 0);
  });

  t.test('a head completed in two pieces before the timeout is served', async (t) => {
    const h = EngineHarness.start(t, {}, echoHandler);
    const conn = await RawHttpConnection.open(h.port, t);
    await conn.send('GET /in-time HTTP/1.1\r\n');
    await h.barrier(); // the engine has read the first piece on its own
    conn.write('\r\n');
    t.equal((await conn.readResponse()).text, '1 /in-time');
  });
});

t.test('garbage at any point of a keep-alive connection gets 400 after the good answers', async (t) => {
  const h = EngineHarness.start(t, {}, echoHandler);
  const conn = await RawHttpConnection.open(h.port, t);
  conn.write(requestBytes('GET', '/good') + 'NOT HTTP AT ALL\r\n\r\n');
  t.equal((await conn.readResponse()).text, '1 /good');
  t.equal((await conn.readResponse()).status, 400);
  t.ok(await conn.waitClosed(), 'closed');
});
