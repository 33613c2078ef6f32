// Event streams in the engine (native/event_stream.cc): stream() sends the
// head and first bytes, write() appends, end() closes after the unsent rest,
// the heartbeat comes from the engine's timer wheel, a peer leaving reports
// CLOSED, and a reader that stops reading is closed past maxStreamBuffer with
// write() saying so (no CLOSED then). Run under ASan by `make -f native/asan.mk test`.
import { connect } from 'node:net';
import t from 'tap';
import { ResponseKind, StreamWrite } from '../src/engine/binding.js';
import { EventType } from '../src/engine/events.js';
import { EngineHarness } from './fixtures/engine-harness.js';
import { RawHttpConnection, requestBytes } from './helpers/http-client.js';
import { waitFor } from './helpers/wait.js';

const text = (conn: RawHttpConnection): string => conn.pending.toString('latin1');

t.test('stream(): head and first bytes; write() appends; end() closes; stale handles are refused', async (t) => {
  const h = EngineHarness.start(t);
  const conn = await RawHttpConnection.open(h.port, t);
  conn.write(requestBytes('GET', '/events?client=a'));
  const req = await h.next();
  t.ok(h.engine.stream(req.handle, 'retry: 2000\n\n'), 'stream() returns true');
  t.equal(h.engine.stats().streams, 1);
  t.equal(h.engine.stats().held, 1, 'a stream counts as held');
  await waitFor('the head', () => text(conn).includes('retry: 2000\n\n'));
  const head = text(conn);
  t.match(head, /^HTTP\/1\.1 200 OK\r\n/);
  t.match(head, /\r\nContent-Type: text\/event-stream\r\n/);
  t.match(head, /\r\nCache-Control: no-store\r\n/);
  t.match(head, /\r\nAccess-Control-Allow-Origin: \*\r\n/);
  t.match(head, /\r\nConnection: close\r\n/);
  t.notMatch(head, /Content-Length/i);
  t.equal(h.engine.write(req.handle, 'id: 1\ndata: "a"\n\n'), StreamWrite.Written);
  t.equal(h.engine.write(req.handle, Buffer.from('id: 2\ndata: "b"\n\n')), StreamWrite.Written, 'a Uint8Array too');
  await waitFor('both events', () => text(conn).endsWith('id: 1\ndata: "a"\n\nid: 2\ndata: "b"\n\n'));
  t.notOk(h.engine.respond(req.handle, 200, ResponseKind.Json, '{}', null), 'a stream cannot be answered as a request');
  t.notOk(h.engine.hold(req.handle, 1000), 'nor held');
  t.ok(h.engine.end(req.handle), 'end()');
  t.equal(h.engine.stats().streams, 0);
  t.equal(h.engine.stats().held, 0);
  t.equal(h.engine.write(req.handle, 'x'), StreamWrite.Stale, 'write() after end() is stale');
  t.notOk(h.engine.end(req.handle), 'end() twice is stale');
  t.ok(await conn.waitClosed(), 'the connection closes');
  await h.barrier();
  t.same(h.pending, [], 'no CLOSED for a stream JS ended');
});

t.test("a GET's Last-Event-ID header is handed over in the event's header field", async (t) => {
  const h = EngineHarness.start(t);
  const conn = await RawHttpConnection.open(h.port, t);
  conn.write(requestBytes('GET', '/events?client=a', { 'Last-Event-ID': '42' }));
  const req = await h.next();
  t.equal(req.acrh, '42');
  t.ok(h.engine.respond(req.handle, 200, ResponseKind.Text, 'ok', null));
  conn.write(requestBytes('POST', '/events?client=a', { 'Last-Event-ID': '42', 'Content-Length': '0' }));
  t.equal((await h.next()).acrh, '', 'only for GET');
});

t.test('the heartbeat is a comment line from the timer wheel; there is no TIMEOUT', async (t) => {
  const h = EngineHarness.start(t, { heartbeatMs: 150 });
  const conn = await RawHttpConnection.open(h.port, t);
  conn.write(requestBytes('GET', '/events?client=a'));
  const req = await h.next();
  t.ok(h.engine.stream(req.handle, ''));
  await waitFor('two heartbeats', () => text(conn).endsWith('\r\n\r\n:\n:\n'));
  await h.barrier();
  t.same(h.pending, [], 'no TIMEOUT event');
  h.engine.end(req.handle);
});

t.test('a peer that leaves reports CLOSED; a peer gone before stream() gets false', async (t) => {
  const h = EngineHarness.start(t);
  const conn = await RawHttpConnection.open(h.port, t);
  conn.write(requestBytes('GET', '/events?client=a'));
  const req = await h.next();
  t.ok(h.engine.stream(req.handle, ''));
  conn.destroy();
  const closed = await h.next();
  t.equal(closed.type, EventType.Closed);
  t.equal(closed.handle, req.handle);
  t.equal(h.engine.stats().streams, 0);
  t.equal(h.engine.write(req.handle, 'x'), StreamWrite.Stale);

  const conn2 = await RawHttpConnection.open(h.port, t);
  conn2.write(requestBytes('GET', '/events?client=b'));
  const req2 = await h.next();
  await conn2.end();
  await h.barrier();
  t.notOk(h.engine.stream(req2.handle, ''), 'the peer half-closed before stream(): false');
  t.equal(h.engine.stats().streams, 0);
});

t.test('a reader that stops reading: write() says Closed past maxStreamBuffer, and no CLOSED follows', async (t) => {
  const h = EngineHarness.start(t, { maxStreamBuffer: 4096 });
  const socket = connect(h.port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.pause();
  socket.write(requestBytes('GET', '/events?client=a'));
  const req = await h.next();
  t.ok(h.engine.stream(req.handle, ''));
  const chunk = Buffer.alloc(64 * 1024, 'x');
  let writes = 0;
  let result: StreamWrite = StreamWrite.Written;
  // Bounded: the kernel's buffers take a few MiB on loopback, then the 4 KiB limit is passed.
  while (result === StreamWrite.Written && writes < 2000) {
    result = h.engine.write(req.handle, chunk);
    writes++;
  }
  t.equal(result, StreamWrite.Closed, `closed after ${writes} writes of 64 KiB`);
  t.equal(h.engine.stats().streams, 0);
  t.equal(h.engine.stats().held, 0);
  await h.barrier();
  t.same(h.pending, [], 'no CLOSED: write() said it');
  t.equal(h.engine.write(req.handle, 'x'), StreamWrite.Stale);
});

t.test('a slow reader that catches up keeps its stream; end() waits for the unsent rest', async (t) => {
  const h = EngineHarness.start(t, { maxStreamBuffer: 64 * 1024 * 1024 });
  const socket = connect(h.port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.pause();
  socket.write(requestBytes('GET', '/events?client=a'));
  const req = await h.next();
  t.ok(h.engine.stream(req.handle, ''));
  const chunk = Buffer.alloc(64 * 1024, 'y');
  const total = 256;
  for (let i = 0; i < total; i++) t.equal(h.engine.write(req.handle, chunk), StreamWrite.Written, `write ${i}`, { diagnostic: false });
  t.ok(h.engine.end(req.handle), 'end() with bytes unsent');
  let got = 0;
  socket.on('data', (d: Buffer) => (got += d.length));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.resume();
  await closed;
  t.ok(got > total * chunk.length, `every byte arrived before the close (${got} bytes)`);
});
