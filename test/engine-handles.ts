// Handles carry a generation: a response for a request that is already
// answered, or for a connection that closed (even when its slot now serves a
// new connection), is refused and reaches nobody.
import t from 'tap';
import { ResponseKind } from '../src/engine/binding.js';
import { EngineHarness } from './fixtures/engine-harness.js';
import { RawHttpConnection, requestBytes } from './helpers/http-client.js';

t.test('respond() to an already answered request returns false and writes nothing', async (t) => {
  const h = EngineHarness.start(t);
  const conn = await RawHttpConnection.open(h.port, t);
  conn.write(requestBytes('GET', '/once'));
  const req = await h.next();
  t.ok(h.answer(req, 'first'));
  t.notOk(h.answer(req, 'second'), 'the second answer is refused');
  t.notOk(h.engine.hold(req.handle, 1000), 'hold is refused too');
  t.equal((await conn.readResponse()).text, 'first');

  t.test('even after the next request on the same connection', async (t) => {
    conn.write(requestBytes('GET', '/next'));
    const next = await h.next();
    t.equal(next.slot, req.slot, 'same slot');
    t.notOk(h.answer(req, 'stale'), 'the old handle does not answer the new request');
    t.ok(h.answer(next, 'fresh'));
    t.equal((await conn.readResponse()).text, 'fresh');
    // Anything the stale handle had written would come before the next answer.
    conn.write(requestBytes('GET', '/last'));
    const last = await h.next();
    t.ok(h.answer(last, 'last'));
    t.equal((await conn.readResponse()).text, 'last', 'nothing else arrived before the next answer');
    t.equal(conn.pending.length, 0, 'or after it');
  });
});

t.test('a stale handle is refused after its socket closed and the slot went to a new connection', async (t) => {
  const h = EngineHarness.start(t);
  const first = await RawHttpConnection.open(h.port, t);
  first.write(requestBytes('GET', '/poll?client=old'));
  const old = await h.next();
  t.ok(h.engine.hold(old.handle, 60_000));
  first.destroy();
  const closed = await h.next();
  t.equal(closed.handle, old.handle, 'CLOSED reported for the old request');

  const second = await RawHttpConnection.open(h.port, t);
  second.write(requestBytes('GET', '/poll?client=new'));
  const fresh = await h.next();
  t.equal(fresh.slot, old.slot, 'the new connection got the freed slot');
  t.not(fresh.gen, old.gen, 'with another generation');

  t.notOk(h.engine.respond(old.handle, 200, ResponseKind.Json, '{"for":"old"}', null), 'respond(old handle) is refused');
  t.notOk(h.engine.hold(old.handle, 1000), 'hold(old handle) is refused');

  // respond() writes at once, so an answer through the old handle would arrive before this one.
  t.ok(h.engine.respond(fresh.handle, 200, ResponseKind.Json, '{"for":"new"}', null));
  const res = await second.readResponse();
  t.equal(res.text, '{"for":"new"}', 'the new connection gets only its own answer');
  t.equal(second.pending.length, 0, 'and nothing else');
});

t.test('handles from another engine or out of range are refused', async (t) => {
  const h = EngineHarness.start(t);
  const conn = await RawHttpConnection.open(h.port, t);
  conn.write(requestBytes('GET', '/x'));
  const req = await h.next();
  t.notOk(h.engine.respond(req.handle + 2 ** 24, 200, ResponseKind.Text, 'x', null), 'a newer generation than the slot has');
  t.notOk(h.engine.respond(req.handle + 1, 200, ResponseKind.Text, 'x', null), 'a slot never used');
  t.notOk(h.engine.respond(2 ** 53 - 1, 200, ResponseKind.Text, 'x', null), 'the largest safe integer');
  t.notOk(h.engine.respond(0, 200, ResponseKind.Text, 'x', null), 'generation 0 never names a request');
  t.ok(h.answer(req, 'the real one'));
  t.equal((await conn.readResponse()).text, 'the real one');
});
