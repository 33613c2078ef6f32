// Manager TTL: a message is forgotten once its TTL (from the send) has passed,
// is never delivered after that, and the once-a-second sweep frees queues
// nobody polls.
import t from 'tap';
import { Manager } from '../src/manager/manager.js';
import { bodyOf, FakeClock, FakeLinks, RELEASED } from './helpers/manager-fakes.js';

const TTL = 10_000;

function setup(maxQueue = 100) {
  const clock = new FakeClock();
  const links = new FakeLinks(1);
  const manager = new Manager({ ttlMs: TTL, maxQueue, now: clock.now, sleep: clock.sleep }, links.links);
  return { clock, links, manager };
}

function sentId(result: ReturnType<Manager['send']>): number {
  if (!result.ok) throw new Error(`send was refused: ${result.code} for ${result.client}`);
  return result.id;
}

t.test('a message is delivered until its TTL has passed, and never after', async (t) => {
  const { clock, links, manager } = setup();
  const id = sentId(manager.send('a', '"m"'));
  clock.advance(TTL - 1);
  manager.onPoll(0, 1, 'a', 0);
  t.same(links.take(), [{ worker: 0, handle: 1, body: bodyOf(id, ['"m"']) }], 'one ms before the TTL it is delivered');

  clock.advance(1);
  manager.onPoll(0, 2, 'a', 0);
  t.same(links.take(), [], 'at the TTL it is not, even before any sweep ran');
  t.same(manager.status('a'), { connected: true, queued: 0 });
  t.match(manager.stats(), { expired: 1, queued: 0, delivered: 1 });
});

t.test('a delivery body never carries an expired message', async (t) => {
  t.test('to a poll that finds messages waiting', async (t) => {
    const { clock, links, manager } = setup();
    sentId(manager.send('b', '1'));
    clock.advance(5000);
    const second = sentId(manager.send('b', '2'));
    clock.advance(5000);
    manager.onPoll(0, 1, 'b', 0);
    t.same(links.take(), [{ worker: 0, handle: 1, body: bodyOf(second, ['2']) }], 'only the unexpired one');
  });

  t.test('to a held poll answered by a send', async (t) => {
    const { clock, links, manager } = setup();
    const future = 2 ** 52; // held although a message waits (its id is below the cursor)
    manager.onPoll(0, 1, 'c', future);
    sentId(manager.send('c', '"old"'));
    clock.advance(TTL);
    // Replace the cursor with a real one: the old message is expired by now.
    manager.onPoll(0, 2, 'c', 0);
    t.same(links.take(), [{ worker: 0, handle: 1, body: RELEASED }], 'only the release of the old poll');
    const id = sentId(manager.send('c', '"new"'));
    t.same(links.take(), [{ worker: 0, handle: 2, body: bodyOf(id, ['"new"']) }], 'the expired message is not in the body');
  });
});

t.test('status counts only unexpired messages', async (t) => {
  const { clock, manager } = setup();
  manager.send('d', '1');
  clock.advance(4000);
  manager.send('d', '2');
  t.equal(manager.status('d').queued, 2);
  clock.advance(6000);
  t.equal(manager.status('d').queued, 1, 'the first expired');
  clock.advance(4000);
  t.same(manager.status('d'), { connected: false, queued: 0 }, 'both expired');
  t.match(manager.stats(), { clients: 0, queued: 0, expired: 2 }, 'and the client is gone');
});

t.test('the sweep drops expired messages of clients that never poll', async (t) => {
  const { clock, manager } = setup();
  manager.send('e', '1');
  clock.advance(5000);
  manager.send('f', '1');
  manager.send('e', '2');
  clock.advance(TTL + 1000 - 5000); // e's first message is 1 s past its TTL
  manager.expire();
  t.match(manager.stats(), { expired: 1, queued: 2, clients: 2 }, 'only e\'s first message');
  clock.advance(5000);
  manager.expire();
  t.match(manager.stats(), { expired: 3, queued: 0, clients: 0 }, 'then the rest, and both clients leave');
});

t.test('the sweep never drops a message early, and notices expiry within 2 s', async (t) => {
  const { clock, manager } = setup();
  const start = clock.ms;
  const sendTimes: number[] = [];
  // One message every 700 ms for 14 s, the sweep every 250 ms for 30 s.
  for (let at = 0; at <= 30_000; at += 50) {
    clock.ms = start + at;
    if (at % 700 === 0 && at <= 14_000) {
      manager.send('g', String(at));
      sendTimes.push(clock.ms);
    }
    if (at % 250 === 0) {
      manager.expire();
      const alive = sendTimes.filter((s) => s + TTL > clock.ms).length;
      const overdue = sendTimes.filter((s) => s + TTL + 2000 <= clock.ms).length;
      const { queued, expired } = manager.stats();
      if (queued < alive) t.fail(`at ${at} ms only ${queued} queued but ${alive} are within their TTL`);
      if (expired < overdue) t.fail(`at ${at} ms only ${expired} expired but ${overdue} are 2 s past their TTL`);
    }
  }
  t.match(manager.stats(), { queued: 0, expired: sendTimes.length, clients: 0 }, 'all expired in the end');
});

t.test('acknowledged messages are not counted as expired', async (t) => {
  const { clock, links, manager } = setup();
  const id = sentId(manager.send('h', '1'));
  manager.onPoll(0, 1, 'h', id);
  links.take();
  clock.advance(TTL * 2);
  manager.expire();
  t.match(manager.stats(), { expired: 0, queued: 0, clients: 1, held_polls: 1 });
});

t.test('a message keeps its TTL when the queue empties and fills again', async (t) => {
  const { clock, links, manager } = setup();
  const first = sentId(manager.send('i', '1'));
  manager.onPoll(0, 1, 'i', first);
  manager.onGone(0, 1);
  clock.advance(TTL - 1000);
  manager.send('i', '2');
  clock.advance(2000);
  manager.expire();
  t.equal(manager.status('i').queued, 1, 'the second message is within its own TTL');
  manager.onPoll(0, 2, 'i', first);
  t.equal(links.take().length, 1, 'and still delivered');
});

t.test('expired messages make room in a full queue', async (t) => {
  const { clock, manager } = setup(2);
  manager.send('j', '1');
  manager.send('j', '2');
  t.equal(manager.send('j', '3').ok, false, 'full');
  clock.advance(TTL);
  t.equal(manager.send('j', '4').ok, true, 'room again once the TTL passed, without a sweep');
  t.match(manager.stats(), { queued: 1, expired: 2, refused: 1 });
});

t.test('a clock that jumps far ahead sweeps everything due in one tick', async (t) => {
  const { clock, manager } = setup();
  for (let i = 0; i < 50; i++) {
    manager.send(`k${i}`, '1');
    clock.advance(997);
  }
  clock.advance(365 * 24 * 3600 * 1000);
  manager.expire();
  t.match(manager.stats(), { queued: 0, expired: 50, clients: 0 });
});

t.test('start() runs the sweep every second and stop() ends it', async (t) => {
  // The timer is captured rather than waited for: calling its callback is what
  // a second passing would do, and the fake clock says what time it is then.
  type Tick = () => void;
  const timer = { unref: () => timer };
  const intervals = t.capture(globalThis, 'setInterval', (() => timer) as unknown as typeof setInterval);
  const cleared = t.capture(globalThis, 'clearInterval', (() => undefined) as typeof clearInterval);
  const { clock, manager } = setup();
  manager.send('m', '1');
  manager.start();
  manager.start(); // a second start is harmless
  intervals.restore();
  const started = intervals.args() as unknown as Array<[Tick, number]>;
  t.equal(started.length, 1, 'one timer, however often start() is called');
  const [tick, everyMs] = started[0]!;
  t.equal(everyMs, 1000, 'it fires every second');

  tick();
  t.match(manager.stats(), { expired: 0, queued: 1 }, 'a tick within the TTL drops nothing');
  clock.advance(TTL);
  tick();
  t.match(manager.stats(), { expired: 1, queued: 0, clients: 0 }, 'a tick after the TTL runs the sweep');

  manager.stop();
  manager.stop();
  cleared.restore();
  t.same(cleared.args(), [[timer]], 'stop() clears that timer, once');
});
