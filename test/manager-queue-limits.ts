// Manager queue limits: a full queue refuses (never drops) and a multi-client
// send is all or nothing.
import t from 'tap';
import { Manager } from '../src/manager/manager.js';
import { bodyOf, FakeClock, FakeLinks } from './helpers/manager-fakes.js';

function setup(maxQueue: number) {
  const clock = new FakeClock();
  const links = new FakeLinks(2);
  const manager = new Manager({ ttlMs: 60_000, maxQueue, now: clock.now, sleep: clock.sleep }, links.links);
  return { clock, links, manager };
}

t.test('a send to a client with --max-queue unacknowledged messages is refused', async (t) => {
  const { manager } = setup(3);
  for (let i = 0; i < 3; i++) t.equal(manager.send('a', String(i)).ok, true, `message ${i} is queued`);
  const refused = manager.send('a', '3');
  t.same(refused, { ok: false, code: 'queue_full', client: 'a' }, 'the fourth is refused, naming the client');
  t.same(manager.status('a'), { connected: false, queued: 3 }, 'nothing was dropped or added');
  t.match(manager.stats(), { sent: 3, refused: 1, queued: 3 });

  t.test('delivered but unacknowledged messages still count', async (t) => {
    const { links, manager } = setup(1);
    manager.onPoll(0, 1, 'b', 0);
    t.equal(manager.send('b', '1').ok, true);
    t.equal(links.take().length, 1, 'delivered');
    t.equal(manager.send('b', '2').ok, false, 'but still in the queue until acknowledged');
  });

  t.test('an acknowledging poll makes room', async (t) => {
    const { links, manager } = setup(1);
    const first = manager.send('c', '1');
    if (!first.ok) throw new Error('first send refused');
    manager.onPoll(0, 1, 'c', first.id);
    links.take();
    t.equal(manager.send('c', '2').ok, true);
  });
});

t.test('a send to many clients is all or nothing', async (t) => {
  t.test('if one queue is full, nothing is queued for anyone', async (t) => {
    const { links, manager } = setup(2);
    manager.send('full', '1');
    manager.send('full', '2');
    manager.onPoll(1, 9, 'held', 0);
    const result = manager.sendMany(['held', 'empty', 'full'], '"x"');
    t.same(result, { ok: false, code: 'queue_full', client: 'full' });
    t.same(links.take(), [], 'the held poll got nothing');
    t.same(manager.status('held'), { connected: true, queued: 0 });
    t.same(manager.status('empty'), { connected: false, queued: 0 });
    t.same(manager.status('full'), { connected: false, queued: 2 });
    t.match(manager.stats(), { sent: 2, refused: 3, clients: 2 }, 'one refusal per recipient');
  });

  t.test('otherwise each client gets the message with its own id, in the order given', async (t) => {
    const { links, manager } = setup(2);
    manager.onPoll(1, 9, 'held', 0);
    const result = manager.sendMany(['x', 'held', 'y'], '{"n":[1,2]}');
    if (!result.ok) throw new Error(`${result.code} for ${result.client}`);
    t.equal(result.ids.length, 3);
    t.ok(result.ids[0]! < result.ids[1]! && result.ids[1]! < result.ids[2]!, 'ids increase in the order of clients');
    t.same(links.take(), [{ worker: 1, handle: 9, body: bodyOf(result.ids[1]!, ['{"n":[1,2]}']) }], 'the held poll is answered');
    t.equal(manager.status('x').queued, 1);
    t.equal(manager.status('y').queued, 1);
    t.match(manager.stats(), { sent: 3, queued: 3, delivered: 1 });
  });
});

t.test('bad options are refused with what is expected', async (t) => {
  const links = new FakeLinks(1).links;
  t.throws(() => new Manager({ ttlMs: 0, maxQueue: 1 }, links), /ttlMs must be a positive/);
  t.throws(() => new Manager({ ttlMs: 1000, maxQueue: 0 }, links), /maxQueue must be a positive integer/);
  t.throws(() => new Manager({ ttlMs: 1000, maxQueue: 1.5 }, links), /maxQueue must be a positive integer/);
});
