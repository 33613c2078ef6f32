// Manager routing: held polls, immediate delivery, acknowledgement by cursor,
// release of an older poll, and forgetting polls that ended.
import t from 'tap';
import { Manager } from '../src/manager/manager.js';
import { makeHandle } from '../src/engine/events.js';
import { bodyOf, FakeClock, FakeLinks, RELEASED } from './helpers/manager-fakes.js';

function setup(workers = 2) {
  const clock = new FakeClock();
  const links = new FakeLinks(workers);
  const manager = new Manager({ ttlMs: 60_000, maxQueue: 100, now: clock.now, sleep: clock.sleep }, links.links);
  return { clock, links, manager };
}

function sentId(result: ReturnType<Manager['send']>): number {
  if (!result.ok) throw new Error(`send was refused: ${result.code} for ${result.client}`);
  return result.id;
}

t.test('a poll with nothing waiting is held until a send answers it', async (t) => {
  const { links, manager } = setup();
  manager.onPoll(0, 11, 'alice', 0);
  t.same(links.take(), [], 'nothing is delivered while nothing waits');
  t.same(manager.status('alice'), { connected: true, queued: 0 }, 'the poll is held');
  t.match(manager.stats(), { clients: 1, held_polls: 1, queued: 0 });

  const id = sentId(manager.send('alice', '{"x":1}'));
  t.same(links.take(), [{ worker: 0, handle: 11, body: bodyOf(id, ['{"x":1}']) }], 'the send answers the held poll at once');
  t.same(manager.status('alice'), { connected: false, queued: 1 }, 'the poll is forgotten and the message stays queued');
  t.match(manager.stats(), { held_polls: 0, queued: 1, sent: 1, delivered: 1 });

  t.test('and the next poll acknowledges it with its cursor', async (t) => {
    manager.onPoll(0, 12, 'alice', id);
    t.same(links.take(), [], 'nothing after the cursor, so the poll is held');
    t.same(manager.status('alice'), { connected: true, queued: 0 }, 'the message is acknowledged');
  });
});

t.test('messages that wait are delivered at once to a poll, which is then not held', async (t) => {
  const { links, manager } = setup();
  const ids = ['1', '"two"', '[3]'].map((data) => sentId(manager.send('bob', data)));
  t.same(links.take(), [], 'no poll, no delivery');

  manager.onPoll(1, 5, 'bob', 0);
  t.same(links.take(), [{ worker: 1, handle: 5, body: bodyOf(ids[2]!, ['1', '"two"', '[3]']) }], 'all of them, in send order, cursor = last id');
  t.same(manager.status('bob'), { connected: false, queued: 3 }, 'not held, nothing acknowledged yet');

  t.test('a poll gets only the messages after its cursor and acknowledges the rest', async (t) => {
    manager.onPoll(1, 6, 'bob', ids[1]!);
    t.same(links.take(), [{ worker: 1, handle: 6, body: bodyOf(ids[2]!, ['[3]']) }]);
    t.same(manager.status('bob'), { connected: false, queued: 1 });
  });

  t.test('a poll with the last cursor acknowledges everything and is held', async (t) => {
    manager.onPoll(1, 7, 'bob', ids[2]!);
    t.same(links.take(), []);
    t.same(manager.status('bob'), { connected: true, queued: 0 });
    t.match(manager.stats(), { clients: 1, queued: 0, delivered: 4 });
  });
});

t.test('a delivery that was lost is delivered again to the next poll with the old cursor', async (t) => {
  const { links, manager } = setup();
  manager.onPoll(0, 1, 'carol', 0);
  const id = sentId(manager.send('carol', '"hello"'));
  t.equal(links.take().length, 1, 'delivered once');
  // The worker's poll vanished before the response went out; the client polls again with its old cursor.
  manager.onPoll(1, 2, 'carol', 0);
  t.same(links.take(), [{ worker: 1, handle: 2, body: bodyOf(id, ['"hello"']) }], 'the same message again');
  t.equal(manager.stats().delivered, 2, 'each delivery of a message counts');
});

// The older poll's worker answers it empty with the cursor it asked with (it keeps
// that cursor: test/worker-held-polls.ts); here, that the manager asks it to.
t.test('a newer poll releases the older one', async (t) => {
  t.test('across workers', async (t) => {
    const { links, manager } = setup();
    manager.onPoll(0, 100, 'dave', 7);
    manager.onPoll(1, 200, 'dave', 9);
    t.same(links.take(), [{ worker: 0, handle: 100, body: RELEASED }], 'worker 0 is told to answer its poll empty');
    t.match(manager.stats(), { held_polls: 1, clients: 1 });
    const id = sentId(manager.send('dave', 'true'));
    t.same(links.take(), [{ worker: 1, handle: 200, body: bodyOf(id, ['true']) }], 'the send goes to the newer poll');
  });

  t.test('on the same worker', async (t) => {
    const { links, manager } = setup();
    manager.onPoll(1, 1, 'erin', 0);
    manager.onPoll(1, 2, 'erin', 0);
    t.same(links.take(), [{ worker: 1, handle: 1, body: RELEASED }]);
  });

  t.test('also when the newer poll is answered at once', async (t) => {
    const { links, manager } = setup();
    // A cursor above every id keeps a poll held while a message waits (PROTOCOL: held until an id > since exists).
    const future = 2 ** 52;
    manager.onPoll(0, 1, 'frank', future);
    const id = sentId(manager.send('frank', '0'));
    t.same(links.take(), [], 'an id below the cursor does not answer the poll');
    manager.onPoll(1, 2, 'frank', 0);
    t.same(
      links.take(),
      [
        { worker: 0, handle: 1, body: RELEASED },
        { worker: 1, handle: 2, body: bodyOf(id, ['0']) },
      ],
      'the old poll is released first, then the new one gets the message',
    );
    t.same(manager.status('frank'), { connected: false, queued: 1 });
  });
});

t.test('a poll that ended is forgotten only if it is still the held one', async (t) => {
  const { links, manager } = setup();
  manager.onPoll(0, 1, 'gina', 0);
  manager.onPoll(1, 2, 'gina', 0);
  links.take();

  manager.onGone(0, 1);
  t.same(manager.status('gina'), { connected: true, queued: 0 }, 'gone of the replaced poll is ignored');
  manager.onGone(0, 2);
  t.same(manager.status('gina'), { connected: true, queued: 0 }, 'the same handle on another worker is another poll');
  const id = sentId(manager.send('gina', '{}'));
  t.same(links.take(), [{ worker: 1, handle: 2, body: bodyOf(id, ['{}']) }], 'the held poll still gets messages');

  manager.onPoll(1, 3, 'gina', id);
  manager.onGone(1, 3);
  t.same(manager.status('gina'), { connected: false, queued: 0 }, 'gone of the held poll forgets it');
  t.match(manager.stats(), { clients: 0, held_polls: 0, queued: 0 }, 'and the client with it');

  manager.onGone(1, 3);
  manager.onGone(0, 9);
  t.match(manager.stats(), { clients: 0, held_polls: 0 }, 'gone of an unknown poll changes nothing');
});

t.test('a client with no held poll and no messages leaves no state', async (t) => {
  const { links, manager } = setup();
  t.same(manager.status('nobody'), { connected: false, queued: 0 }, 'status of an unknown client');
  t.equal(manager.stats().clients, 0, 'status creates no state');

  const id = sentId(manager.send('hank', '1'));
  t.equal(manager.stats().clients, 1, 'a queued message is state');
  manager.onPoll(0, 1, 'hank', 0);
  links.take();
  manager.onPoll(0, 2, 'hank', id);
  t.match(manager.stats(), { clients: 1, held_polls: 1, queued: 0 }, 'acknowledged, held');
  manager.onGone(0, 2);
  t.match(manager.stats(), { clients: 0, held_polls: 0, queued: 0 }, 'nothing left once the poll ends');
});

t.test('a cursor above every id issued waits until ids pass it', async (t) => {
  const { links, manager } = setup();
  const since = 2 ** 52;
  manager.onPoll(0, 1, 'ivan', since);
  sentId(manager.send('ivan', '1'));
  t.same(links.take(), [], 'the message is not after the cursor');
  t.same(manager.status('ivan'), { connected: true, queued: 1 });
  t.match(manager.stats(), { clients: 1, held_polls: 1, queued: 1 }, 'one client, counted once');
  manager.onGone(0, 1);
  t.match(manager.stats(), { clients: 1, held_polls: 0, queued: 1 });
  manager.onPoll(0, 2, 'ivan', since);
  t.match(manager.stats(), { clients: 1, held_polls: 1, queued: 0 }, 'the cursor acknowledges it');
});

t.test('heldPolls lists every held poll', async (t) => {
  const { manager } = setup();
  manager.onPoll(0, 1, 'a', 5);
  manager.onPoll(1, 2, 'b', 0);
  t.same(
    manager.heldPolls().sort((x, y) => x.client.localeCompare(y.client)),
    [
      { client: 'a', worker: 0, handle: 1 },
      { client: 'b', worker: 1, handle: 2 },
    ],
  );
});

t.test('held polls survive the table growing and entries being reused', async (t) => {
  const { links, manager } = setup();
  const n = 5000;
  // Real handles (generation * 2^24 + engine slot), with generations past 2^31 so they are doubles, not small integers.
  const handle = (slot: number, gen: number): number => makeHandle(slot, 2 ** 28 + gen);
  for (let i = 0; i < n; i++) manager.onPoll(i % 2, handle(i, i), `c${i}`, i);
  for (let i = 0; i < n; i += 2) manager.onGone(i % 2, handle(i, i));
  for (let i = 0; i < n; i += 2) manager.onPoll(1, handle(10_000 + i, 0), `d${i}`, 0);
  t.equal(manager.stats().held_polls, n, 'half replaced by new clients');
  let wrong = 0;
  for (let i = 1; i < n; i += 2) {
    manager.onPoll(0, handle(20_000 + i, 0), `c${i}`, 0);
    const [release] = links.take();
    if (release === undefined || release.worker !== 1 || release.handle !== handle(i, i) || release.body !== RELEASED) wrong++;
  }
  t.equal(wrong, 0, 'every surviving poll kept its worker and handle');
  let gone = 0;
  for (let i = 1; i < n; i += 2) {
    manager.onGone(0, handle(20_000 + i, 0));
    if (manager.status(`c${i}`).connected) wrong++;
    gone++;
  }
  t.equal(wrong, 0, 'a GONE finds each client from its worker and engine slot');
  t.match(manager.stats(), { held_polls: n - gone, clients: n - gone });
});

t.test('a poll on an engine slot ends the older poll held on it, whose GONE did not come', async (t) => {
  const { links, manager } = setup();
  manager.onPoll(0, makeHandle(5, 1), 'kim', 0);
  // The connection on slot 5 was answered and polled again for another client (keep-alive).
  manager.onPoll(0, makeHandle(5, 2), 'lee', 0);
  t.same(links.take(), [], 'nothing to answer: that poll already ended');
  t.same(manager.status('kim'), { connected: false, queued: 0 }, 'the older poll is forgotten');
  t.same(manager.status('lee'), { connected: true, queued: 0 });
  t.match(manager.stats(), { clients: 1, held_polls: 1 });
  manager.onGone(0, makeHandle(5, 1));
  t.same(manager.status('lee'), { connected: true, queued: 0 }, 'a late GONE of the older poll changes nothing');
  manager.onGone(0, makeHandle(5, 2));
  t.match(manager.stats(), { clients: 0, held_polls: 0 });
});
