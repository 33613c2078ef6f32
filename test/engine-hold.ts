// Held requests: hold() keeps a request open, its timeout comes back as a
// TIMEOUT event, and a peer that goes away comes back as a CLOSED event.
import t from 'tap';
import { ResponseKind, STATS_FIELD_COUNT, StatsField } from '../src/engine/binding.js';
import { EventType } from '../src/engine/events.js';
import { EngineHarness } from './fixtures/engine-harness.js';
import { RawHttpConnection, requestBytes } from './helpers/http-client.js';
import { sleep, waitFor } from './helpers/wait.js';

/**
 * Longer than a 200 ms hold plus the engine's 100 ms tick and a tick of
 * lateness: a TIMEOUT due at 200 ms has been queued by the time this has
 * passed (the engine's tick is a timer due before ours), so an event that
 * follows it is reported after that TIMEOUT.
 */
const PAST_A_200_MS_HOLD = 500;

t.test('hold() then a TIMEOUT event; the request is still open and answerable', async (t) => {
  const h = EngineHarness.start(t);
  const conn = await RawHttpConnection.open(h.port, t);
  // Taken before the request is sent: the engine's clock cannot have started
  // the 300 ms earlier, however late this thread gets to call hold().
  const sentAt = Date.now();
  conn.write(requestBytes('GET', '/poll?client=a'));
  const req = await h.next();
  t.ok(h.engine.hold(req.handle, 300), 'hold returns true');
  t.equal(h.engine.stats().held, 1, 'counted as held');
  const counts = new Float64Array(STATS_FIELD_COUNT);
  h.engine.statsInto(counts);
  const s = h.engine.stats();
  t.same(
    [counts[StatsField.connections], counts[StatsField.held], counts[StatsField.streams], counts[StatsField.accepted], counts[StatsField.refused], counts[StatsField.badRequests]],
    [s.connections, s.held, s.streams, s.accepted, s.refused, s.badRequests],
    'statsInto() writes the numbers of stats(), at their StatsField indexes',
  );
  t.throws(() => h.engine.statsInto(new Float64Array(5)), /Float64Array of at least 6/, 'too short an array is refused');
  t.throws(() => h.engine.statsInto(new Int32Array(6) as unknown as Float64Array), /Float64Array/, 'so is another typed array');
  const timeout = await h.next();
  const after = Date.now() - sentAt;
  t.equal(timeout.type, EventType.Timeout);
  t.equal(timeout.handle, req.handle, 'the TIMEOUT names the held request');
  t.equal(timeout.target, '', 'TIMEOUT records carry no target');
  t.ok(after >= 290, `not before 300 ms (${after} ms after the request was sent)`);
  t.equal(conn.pending.length, 0, 'the engine itself wrote nothing');
  t.ok(h.engine.respond(req.handle, 200, ResponseKind.Json, '{"cursor":0,"messages":[]}', null), 'answer after TIMEOUT');
  t.equal((await conn.readResponse()).status, 200);
  t.equal(h.engine.stats().held, 0, 'no longer held');
});

t.test('hold() again re-arms the timeout; respond() cancels it', async (t) => {
  const h = EngineHarness.start(t);
  const conn = await RawHttpConnection.open(h.port, t);
  conn.write(requestBytes('GET', '/p'));
  const req = await h.next();
  t.ok(h.engine.hold(req.handle, 200));
  t.ok(h.engine.hold(req.handle, 5000), 'a second hold replaces the first timeout');
  // A window past the first deadline; what proves no TIMEOUT came in it is the
  // next request below, which would be reported after such a TIMEOUT.
  await sleep(PAST_A_200_MS_HOLD);
  t.equal(h.engine.stats().held, 1, 'held once, counted once');
  t.ok(h.answer(req, 'done'));
  await conn.readResponse();
  conn.write(requestBytes('GET', '/q'));
  const next = await h.next();
  t.same([next.type, next.target], [EventType.Request, '/q'], 'no TIMEOUT at the first deadline: the next event is the next request');
  t.ok(h.engine.hold(next.handle, 200));
  t.ok(h.answer(next, 'early'));
  await sleep(PAST_A_200_MS_HOLD);
  t.equal((await conn.readResponse()).text, 'early');
  conn.write(requestBytes('GET', '/r'));
  const last = await h.next();
  t.same([last.type, last.target], [EventType.Request, '/r'], 'no TIMEOUT for an answered request: the next event is the next request');
  t.ok(h.answer(last, 'r'));
});

t.test('a peer closing a held request is reported as CLOSED, once', async (t) => {
  const h = EngineHarness.start(t);

  t.test('when the peer half-closes (FIN)', async (t) => {
    const conn = await RawHttpConnection.open(h.port, t);
    conn.write(requestBytes('GET', '/poll?client=fin'));
    const req = await h.next();
    t.ok(h.engine.hold(req.handle, 60_000));
    conn.end();
    const closed = await h.next();
    t.equal(closed.type, EventType.Closed);
    t.equal(closed.handle, req.handle, 'CLOSED names the held request');
    t.equal(h.engine.stats().held, 0);
    t.equal(h.engine.stats().connections, 0);
    t.notOk(h.engine.respond(req.handle, 200, ResponseKind.Json, '{}', null), 'its handle is dead');
    t.notOk(h.engine.hold(req.handle, 1000), 'for hold() too');
  });

  t.test('when the peer resets the connection', async (t) => {
    const conn = await RawHttpConnection.open(h.port, t);
    conn.write(requestBytes('GET', '/poll?client=rst'));
    const req = await h.next();
    t.ok(h.engine.hold(req.handle, 60_000));
    conn.socket.resetAndDestroy();
    const closed = await h.next();
    t.equal(closed.type, EventType.Closed);
    t.equal(closed.handle, req.handle);
  });

  t.test('many at once are reported in one batch', async (t) => {
    const conns = await Promise.all(Array.from({ length: 30 }, () => RawHttpConnection.open(h.port, t)));
    for (const c of conns) c.write(requestBytes('GET', '/poll'));
    const handles = new Set<number>();
    while (handles.size < conns.length) {
      const req = await h.next();
      t.ok(h.engine.hold(req.handle, 60_000));
      handles.add(req.handle);
    }
    t.equal(h.engine.stats().held, 30);
    const before = h.batches.length;
    for (const c of conns) c.destroy();
    const closedHandles = new Set<number>();
    while (closedHandles.size < conns.length) {
      const ev = await h.next();
      t.equal(ev.type, EventType.Closed);
      closedHandles.add(ev.handle);
    }
    t.same([...closedHandles].sort(), [...handles].sort(), 'each held request reported once');
    t.ok(h.batches.length - before < conns.length, `in fewer callbacks than closes (${h.batches.slice(before).join(',')})`);
    t.equal(h.engine.stats().held, 0);
  });
});

t.test('a request that is not held dies silently with its peer', async (t) => {
  const h = EngineHarness.start(t);
  const conn = await RawHttpConnection.open(h.port, t);
  conn.write(requestBytes('GET', '/unheld'));
  const req = await h.next();
  conn.socket.resetAndDestroy();
  await waitFor('the engine to drop the reset connection', () => h.engine.stats().connections === 0);
  await h.barrier();
  t.equal(h.pending.length, 0, 'no CLOSED for a request that was never held');
  t.notOk(h.engine.respond(req.handle, 200, ResponseKind.Text, 'late', null), 'respond refuses its handle');
  t.equal(h.engine.stats().connections, 0);
});

t.test('a half-closed peer still gets the answer to a request it sent before its FIN', async (t) => {
  const h = EngineHarness.start(t);
  const conn = await RawHttpConnection.open(h.port, t);
  conn.write(requestBytes('GET', '/health'));
  const fin = conn.end();
  const req = await h.next();
  await fin;
  await h.barrier(); // the engine has seen the FIN
  t.ok(h.answer(req, 'ok'), 'respond after the FIN');
  const res = await conn.readResponse();
  t.equal(res.text, 'ok');
  t.equal(res.headers.connection, 'close', 'and is told the connection closes');
  t.ok(await conn.waitClosed());

  t.test('and pipelined requests sent before the FIN are all answered, the last one with close', async (t) => {
    h.handler = (ev, engine) => {
      engine.respond(ev.handle, 200, ResponseKind.Text, ev.target, null);
    };
    const c3 = await RawHttpConnection.open(h.port, t);
    c3.write(requestBytes('GET', '/p1') + requestBytes('GET', '/p2') + requestBytes('GET', '/p3'));
    c3.end();
    const got = [];
    for (let i = 0; i < 3; i++) got.push(await c3.readResponse());
    h.handler = undefined;
    t.same(got.map((r) => r.text), ['/p1', '/p2', '/p3']);
    t.equal(got[2]?.headers.connection, 'close', 'the last answer says close');
    t.ok(await c3.waitClosed(), 'then the server closes');
  });

  t.test('but hold() on such a request fails and closes it', async (t) => {
    const c2 = await RawHttpConnection.open(h.port, t);
    c2.write(requestBytes('GET', '/poll'));
    const fin = c2.end();
    const r2 = await h.next();
    await fin;
    await h.barrier(); // the engine has seen the FIN
    t.notOk(h.engine.hold(r2.handle, 1000), 'nobody is there to hold for');
    t.ok(await c2.waitClosed(), 'closed');
    await h.barrier();
    t.equal(h.pending.length, 0, 'and no CLOSED follows');
  });
});
