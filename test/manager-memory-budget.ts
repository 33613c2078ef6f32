// The memory budget (--max-memory): sends that would take the manager past it
// are refused with memory_full, all or nothing, and never dropped; room comes
// back as clients acknowledge or messages expire; stats show use and budget.
import t from 'tap';
import { Manager } from '../src/manager/manager.js';
import { CLIENT_BYTES, MESSAGE_BYTES, QUEUE_BYTES } from '../src/manager/memory-budget.js';
import { FakeClock, FakeLinks } from './helpers/manager-fakes.js';
import { makeHandle } from '../src/engine/events.js';

const DATA = JSON.stringify('x'.repeat(958)); // 960 characters
const FIRST_COST = DATA.length + MESSAGE_BYTES + QUEUE_BYTES + CLIENT_BYTES;
const NEXT_COST = DATA.length + MESSAGE_BYTES;

function setup(maxMemory: number): { manager: Manager; clock: FakeClock } {
  const clock = new FakeClock();
  const manager = new Manager({ ttlMs: 10_000, maxQueue: 1000, maxMemory, now: clock.now, sleep: clock.sleep }, new FakeLinks(1).links);
  return { manager, clock };
}

t.test('sends are accepted up to the budget, then refused with memory_full', async (t) => {
  const { manager } = setup(FIRST_COST + 9 * NEXT_COST);
  for (let i = 0; i < 10; i++) t.ok(manager.send('a', DATA).ok, `message ${i} fits`);
  t.equal(manager.memoryUsed(), FIRST_COST + 9 * NEXT_COST, 'the budget counts exactly what was accepted');
  t.same(manager.send('a', DATA), { ok: false, code: 'memory_full', client: 'a' });
  t.same(manager.send('b', '1'), { ok: false, code: 'memory_full', client: 'b' }, 'a new client is refused too');
  t.match(manager.stats(), { queued: 10, refused: 2, refused_memory_full: 2, refused_queue_full: 0, memory_budget: FIRST_COST + 9 * NEXT_COST });
  t.equal(manager.status('a').queued, 10, 'nothing was dropped to make room');
});

t.test('acknowledging and expiring give the room back', async (t) => {
  const { manager, clock } = setup(FIRST_COST + 4 * NEXT_COST);
  const ids: number[] = [];
  for (let i = 0; i < 5; i++) {
    const r = manager.send('a', DATA);
    if (r.ok) ids.push(r.id);
  }
  t.equal(ids.length, 5);
  t.equal(manager.send('a', DATA).ok, false, 'full');
  manager.onPoll(0, makeHandle(1, 1), 'a', ids[2]!); // acknowledges three (and gets the other two)
  t.equal(manager.memoryUsed(), FIRST_COST + NEXT_COST, 'three messages freed');
  t.ok(manager.send('a', DATA).ok, 'and a send fits again');
  clock.advance(10_001);
  manager.expire();
  t.equal(manager.memoryUsed(), 0, 'expiry frees the rest, the client included');
  t.equal(manager.stats().clients, 0);
});

t.test('a send to many clients is refused whole when it does not fit', async (t) => {
  const { manager } = setup(3 * FIRST_COST);
  const r = manager.sendMany(['a', 'b', 'c', 'd'], DATA);
  t.same(r, { ok: false, code: 'memory_full', client: 'a' });
  t.equal(manager.memoryUsed(), 0, 'none of the four was queued');
  t.equal(manager.stats().refused_memory_full, 4, 'refused counts each recipient');
  t.ok(manager.sendMany(['a', 'b', 'c'], DATA).ok, 'three fit');
});

t.test('without a budget nothing is refused for memory', async (t) => {
  const clock = new FakeClock();
  const manager = new Manager({ ttlMs: 10_000, maxQueue: 100_000, now: clock.now, sleep: clock.sleep }, new FakeLinks(1).links);
  for (let i = 0; i < 10_000; i++) manager.send(`c${i % 100}`, DATA);
  t.equal(manager.stats().refused, 0);
  t.equal(manager.stats().memory_budget, 0, 'stats shows 0 for no limit');
});
