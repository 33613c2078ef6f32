// The worker's side of a held poll, with a fake engine and a fake manager
// port: it keeps the poll's cursor and JSONP callback (nobody else does), so
// it answers a RELEASE and a timeout empty with that cursor, tells the manager
// GONE with the handle alone, and drops a DELIVER or RELEASE for a poll that
// already ended.
import t from 'tap';
import { ResponseKind, type NativeEngine } from '../src/engine/binding.js';
import { makeHandle, Method } from '../src/engine/events.js';
import { parseArgs } from '../src/config.js';
import { emptyPollBody, replacedPollBody } from '../src/protocol/poll-body.js';
import { wrapJsonp } from '../src/protocol/jsonp.js';
import { RequestHandler } from '../src/worker/request-handler.js';
import { HeldPolls, NOT_HELD } from '../src/worker/held-polls.js';
import type { ManagerPort } from '../src/worker/manager-port.js';

interface Answer {
  handle: number;
  status: number;
  kind: number;
  body: string;
}

function setup() {
  const answers: Answer[] = [];
  const told: string[] = [];
  const engine = {
    events: new ArrayBuffer(0),
    respond(handle: number, status: number, kind: number, body: Uint8Array | string | null): boolean {
      answers.push({ handle, status, kind, body: body === null ? '' : typeof body === 'string' ? body : Buffer.from(body).toString('utf8') });
      return true;
    },
    hold: (): boolean => true,
  } as unknown as NativeEngine;
  const manager: ManagerPort = {
    poll: (handle, since, client) => told.push(`poll ${handle} ${since} ${client}`),
    stream: (handle, since, client) => told.push(`stream ${handle} ${since} ${client}`),
    gone: (handle) => told.push(`gone ${handle}`),
  };
  const handler = new RequestHandler(engine, parseArgs([]), manager);
  const poll = (handle: number, query: string): void => handler.onRequest(handle, Method.Get, `/poll?${query}`, '');
  const take = <T>(list: T[]): T[] => list.splice(0);
  return { handler, poll, answers: () => take(answers), told: () => take(told) };
}

t.test('a release is answered empty with the cursor the poll asked with, marked replaced, and the manager is not told', async (t) => {
  const { handler, poll, answers, told } = setup();
  const h = makeHandle(3, 7);
  poll(h, 'client=ann&since=1700000000000123');
  t.same(told(), [`poll ${h} 1700000000000123 ann`], 'the manager hears of the poll');
  handler.release(h);
  t.same(answers(), [{ handle: h, status: 200, kind: ResponseKind.Json, body: replacedPollBody(1_700_000_000_000_123) }]);
  t.same(told(), [], 'no GONE: the manager released it');
  t.equal(handler.held.size, 0);
  handler.release(h);
  handler.deliver(h, Buffer.from('{}'));
  t.same(answers(), [], 'a second release or a late delivery is dropped');
});

t.test('JSONP: a release and a delivery are wrapped in the poll\'s callback', async (t) => {
  const { handler, poll, answers } = setup();
  const a = makeHandle(1, 1);
  const b = makeHandle(2, 1);
  poll(a, 'client=bo&since=5&callback=cb1');
  poll(b, 'client=cy&callback=cb2');
  handler.release(a);
  handler.deliver(b, Buffer.from('{"cursor":9,"messages":[1]}'));
  t.same(answers(), [
    { handle: a, status: 200, kind: ResponseKind.Jsonp, body: wrapJsonp('cb1', replacedPollBody(5)) },
    { handle: b, status: 200, kind: ResponseKind.Jsonp, body: wrapJsonp('cb2', '{"cursor":9,"messages":[1]}') },
  ]);
});

t.test('a timeout is answered empty with its cursor and told as GONE with the handle alone', async (t) => {
  const { handler, poll, answers, told } = setup();
  const h = makeHandle(9, 2);
  poll(h, 'client=dee&since=42');
  told();
  handler.onTimeout(h);
  t.same(answers(), [{ handle: h, status: 200, kind: ResponseKind.Json, body: emptyPollBody(42) }]);
  t.same(told(), [`gone ${h}`]);
  handler.onClosed(h);
  t.same(told(), [], 'a close after the answer is not a second GONE');
});

t.test('a close is told as GONE; a release for an older poll on the same slot is dropped', async (t) => {
  const { handler, poll, answers, told } = setup();
  const old = makeHandle(4, 10);
  poll(old, 'client=eve');
  handler.onClosed(old);
  t.same(told(), [`poll ${old} 0 eve`, `gone ${old}`]);
  const next = makeHandle(4, 11); // the slot reused by a new connection
  poll(next, 'client=fay&since=3');
  handler.release(old);
  t.same(answers(), [], 'the release of the ended poll does not touch the new one');
  handler.release(next);
  t.same(answers(), [{ handle: next, status: 200, kind: ResponseKind.Json, body: replacedPollBody(3) }]);
});

t.test('HeldPolls: slots across pages, generations up to the last, shutdown listing', async (t) => {
  const held = new HeldPolls();
  const handles = [makeHandle(0, 0), makeHandle(4095, 1), makeHandle(4096, 2), makeHandle(100_000, 2 ** 29 - 1)];
  handles.forEach((h, i) => held.add(h, i * 10, undefined));
  t.equal(held.size, 4);
  t.same(held.allHandles().sort((a, b) => a - b), [...handles].sort((a, b) => a - b), 'every handle listed back');
  t.equal(held.take(makeHandle(100_000, 2 ** 29 - 2)), NOT_HELD, 'another generation of the slot is not held');
  t.equal(held.take(makeHandle(200_000, 1)), NOT_HELD, 'a slot never used is not held');
  t.equal(held.take(handles[3]!), 30, 'take answers the cursor');
  t.equal(held.take(handles[0]!), 0, 'a cursor of 0 and a handle of 0');
  t.equal(held.take(handles[0]!), NOT_HELD, 'once');
  t.equal(held.size, 2);
  t.ok(held.memory() <= 25 * 4096 * 12, `${held.memory()} bytes of pages for slots up to 100,000`);
});
