// Limits and shutdown: refusing connections past maxConnections while serving
// the others, drain(), close(), and a large response finished on EPOLLOUT for a
// peer that reads slowly.
import t from 'tap';
import { connect } from 'node:net';
import { ResponseKind } from '../src/engine/binding.js';
import { EngineHarness, echoHandler } from './fixtures/engine-harness.js';
import { RawHttpConnection, requestBytes } from './helpers/http-client.js';
import { waitFor } from './helpers/wait.js';

/** Reads everything a fresh connection receives until the server closes it. */
function readUntilClose(port: number, request?: string): Promise<{ data: string; error?: string }> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let data = '';
    let error: string | undefined;
    s.on('connect', () => {
      if (request !== undefined) s.write(request);
    });
    s.on('data', (d) => (data += d.toString('latin1')));
    s.on('error', (e: NodeJS.ErrnoException) => (error = e.code));
    s.on('close', () => resolve(error === undefined ? { data } : { data, error }));
  });
}

t.test('past maxConnections new connections get 503 and are closed, while the others are served', async (t) => {
  const h = EngineHarness.start(t, { maxConnections: 3 }, echoHandler);
  const held = await Promise.all([1, 2, 3].map(() => RawHttpConnection.open(h.port, t)));
  await waitFor('three accepted connections', () => h.engine.stats().connections === 3);

  const refused = await readUntilClose(h.port);
  t.match(refused.data, /^HTTP\/1\.1 503 Service Unavailable\r\n/, 'the fourth gets 503');
  t.match(refused.data, /Connection: close\r\n/);
  t.match(refused.data, /"error":"service_unavailable"/);
  t.equal(refused.error, undefined, 'closed cleanly');
  const withRequest = await readUntilClose(h.port, requestBytes('GET', '/late'));
  t.match(withRequest.data, /^HTTP\/1\.1 503 /, 'also when it sends a request at once');

  for (const [i, c] of held.entries()) t.equal((await c.get(`/ok${i}`)).text, `1 /ok${i}`, `connection ${i} is still served`);
  const s = h.engine.stats();
  t.equal(s.refused, 2, 'refusals counted');
  t.equal(s.accepted, 3, 'refusals are not counted as accepted');
  t.equal(s.connections, 3);

  t.test('and once one closes, a new connection is accepted again', async (t) => {
    held[0]?.destroy();
    await waitFor('a free place', () => h.engine.stats().connections === 2);
    const again = await RawHttpConnection.open(h.port, t);
    t.equal((await again.get('/again')).text, '1 /again');
  });
});

t.test('drain() stops accepting, closes idle connections and closes the rest after their answer', async (t) => {
  const h = EngineHarness.start(t);
  const idle = await RawHttpConnection.open(h.port, t);
  const busy = await RawHttpConnection.open(h.port, t);
  busy.write(requestBytes('GET', '/poll'));
  const req = await h.next();
  t.ok(h.engine.hold(req.handle, 60_000));
  await waitFor('two connections', () => h.engine.stats().connections === 2);

  h.engine.drain();
  t.ok(await idle.waitClosed(), 'the idle connection is closed');
  const refused = await new Promise<string>((resolve) => {
    const s = connect(h.port, '127.0.0.1');
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    s.on('connect', () => {
      s.destroy();
      resolve('connected');
    });
  });
  t.equal(refused, 'ECONNREFUSED', 'the listening socket is closed');
  // drain() closed the idle connection at once; the busy one is still counted,
  // and the answer read from it below shows it stayed open.
  t.equal(h.engine.stats().connections, 1, 'the connection with a held request stays');

  t.ok(h.engine.respond(req.handle, 200, ResponseKind.Json, '{"cursor":0,"messages":[]}', null), 'it is still answerable');
  const res = await busy.readResponse();
  t.equal(res.headers.connection, 'close', 'its answer says close');
  t.ok(await busy.waitClosed(), 'and it is closed after the answer');
  await waitFor('no connections', () => h.engine.stats().connections === 0);
  t.equal(h.engine.stats().held, 0);
});

t.test('close() closes every socket at once and is idempotent', async (t) => {
  const h = new EngineHarness();
  const conn = await RawHttpConnection.open(h.port, t);
  conn.write(requestBytes('GET', '/x'));
  const req = await h.next();
  h.engine.close();
  h.engine.close();
  t.ok(await conn.waitClosed(), 'the client sees the close');
  t.notOk(h.answer(req, 'late'), 'respond after close is refused');
  t.same(h.engine.stats().connections, 0);
  t.throws(() => h.engine.listen(), /closed/, 'a closed engine cannot listen again');
});

t.test('close() from inside the events callback finishes after the callback returns', async (t) => {
  const h = new EngineHarness({}, (ev, engine) => {
    engine.close();
    t.notOk(engine.respond(ev.handle, 200, ResponseKind.Text, 'x', null), 'respond after close is refused, even inside');
    return true;
  });
  const conns = await Promise.all([1, 2, 3].map(() => RawHttpConnection.open(h.port, t)));
  for (const c of conns) c.write(requestBytes('GET', '/x'));
  for (const c of conns) t.ok(await c.waitClosed(), 'closed');
});

t.test('a 4 MiB body reaches a slow reader completely, finished on EPOLLOUT', async (t) => {
  const h = EngineHarness.start(t);
  const body = Buffer.alloc(4 * 1024 * 1024);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7 + (i >> 13)) & 0xff;
  const socket = connect(h.port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  t.teardown(() => socket.destroy());
  socket.write(requestBytes('GET', '/big') + requestBytes('GET', '/after'));
  const req = await h.next();
  socket.pause();
  t.ok(h.engine.respond(req.handle, 200, ResponseKind.Text, body, null));

  const chunks: Buffer[] = [];
  let received = 0;
  socket.on('data', (d: Buffer) => {
    chunks.push(d);
    received += d.length;
    // A slow reader: a pause of a timer's turn after every chunk.
    socket.pause();
    setTimeout(() => socket.resume(), 1);
  });
  // The pipelined request is parsed only once the answer before it is fully
  // written, and would then be reported before the barrier request: still
  // waiting proves the kernel took only part of the 4 MiB and the engine holds
  // the rest for EPOLLOUT.
  await h.barrier();
  t.equal(h.pending.length, 0, 'the pipelined request still waits while the reader is paused');
  socket.resume();
  const after = await h.next(20_000);
  t.equal(after.target, '/after', 'the pipelined request is reported once the big answer is out');
  t.ok(h.answer(after, 'tail'));
  await waitFor('the whole body and the next answer', () => received >= body.length + 200 && Buffer.concat(chunks).includes('\r\n\r\ntail'), {
    timeoutMs: 20_000,
  });
  const all = Buffer.concat(chunks);
  const headEnd = all.indexOf('\r\n\r\n') + 4;
  t.match(all.subarray(0, headEnd).toString('latin1'), /Content-Length: 4194304\r\n/);
  t.ok(all.subarray(headEnd, headEnd + body.length).equals(body), 'every byte arrived, in order');
  t.ok(all.subarray(headEnd + body.length).toString('latin1').startsWith('HTTP/1.1 200 OK'), 'followed by the next answer');
});

t.test('a peer that stops reading a large answer is closed after keepAliveTimeoutMs without progress', async (t) => {
  const h = EngineHarness.start(t, { keepAliveTimeoutMs: 300 });
  const socket = connect(h.port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  t.teardown(() => socket.destroy());
  socket.pause();
  // Before the request: the engine cannot start its 300 ms clock earlier.
  const started = Date.now();
  socket.write(requestBytes('GET', '/big'));
  const req = await h.next();
  t.ok(h.engine.respond(req.handle, 200, ResponseKind.Text, Buffer.alloc(8 * 1024 * 1024), null));
  t.equal(h.engine.stats().connections, 1, 'the rest waits for the reader');
  await waitFor('the stalled connection to be closed', () => h.engine.stats().connections === 0);
  t.ok(Date.now() - started >= 290, `closed after the timeout (${Date.now() - started} ms after the request was sent)`);
});

t.test('engines sharing a connection counter refuse past their common maxConnections', async (t) => {
  const shared = new Int32Array(new SharedArrayBuffer(4));
  const a = EngineHarness.start(t, { maxConnections: 3, sharedConnections: shared }, echoHandler);
  const b = EngineHarness.start(t, { maxConnections: 3, sharedConnections: shared }, echoHandler);
  const open = [
    await RawHttpConnection.open(a.port, t),
    await RawHttpConnection.open(a.port, t),
    await RawHttpConnection.open(b.port, t),
  ];
  await waitFor('three connections counted', () => Atomics.load(shared, 0) === 3);
  const refused = await readUntilClose(b.port);
  t.match(refused.data, /^HTTP\/1\.1 503 /, 'the second engine refuses the fourth connection of the pair');
  t.equal(Atomics.load(shared, 0), 3, 'a refusal leaves the count as it was');
  for (const c of open) t.equal((await c.get('/x')).status, 200, 'the three are served');
  open[0]!.socket.destroy();
  await waitFor('the count drops when one closes', () => Atomics.load(shared, 0) === 2);
  const again = await RawHttpConnection.open(b.port, t);
  t.equal((await again.get('/y')).status, 200, 'and a new one is accepted by either engine');
});
