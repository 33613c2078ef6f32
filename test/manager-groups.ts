// Groups in the manager (PROTOCOL.md section 2, "Groups"): a publish reaches
// every member under one id, exactly once, in id order with its direct
// messages, also between polls; leave and the gone timeout end memberships
// without taking back what was queued; --max-queue and TTL apply per member.
// A fake clock stands in for time: no test sleeps.
import t from 'tap';
import { Manager, type PublishResult } from '../src/manager/manager.js';
import { MAX_GROUPS_PER_CLIENT } from '../src/manager/groups.js';
import { bodyOf, FakeClock, FakeLinks, RELEASED } from './helpers/manager-fakes.js';

const TTL = 10_000;

function setup(options: { maxQueue?: number; maxMemory?: number; memberTimeoutMs?: number } = {}) {
  const clock = new FakeClock();
  const links = new FakeLinks(2);
  const manager = new Manager(
    { ttlMs: TTL, maxQueue: options.maxQueue ?? 100, now: clock.now, sleep: clock.sleep, maxMemory: options.maxMemory, memberTimeoutMs: options.memberTimeoutMs },
    links.links,
  );
  return { clock, links, manager };
}

function published(result: PublishResult): { id: number; queued: number; full: number } {
  if (!result.ok) throw new Error(`publish was refused: ${result.code}`);
  return { id: result.id, queued: result.queued, full: result.full };
}

function sentId(result: ReturnType<Manager['send']>): number {
  if (!result.ok) throw new Error(`send was refused: ${result.code}`);
  return result.id;
}

t.test('a member between polls gets a publish once, in id order with its direct messages', async (t) => {
  const { links, manager } = setup();
  t.same(manager.join(['a', 'b'], 'room'), { ok: true, members: 2 });
  manager.onPoll(0, 1, 'a', 0);
  const d1 = sentId(manager.send('a', '"d1"'));
  t.same(links.take(), [{ worker: 0, handle: 1, body: bodyOf(d1, ['"d1"']) }], 'the held poll got the direct message');

  // a is between polls now: the publish waits for it.
  const p1 = published(manager.publish('room', '"p1"'));
  t.same(p1, { id: p1.id, queued: 2, full: 0 }, 'queued for both members');
  t.ok(p1.id > d1, 'the publish id is above the member\'s last id');
  t.same(links.take(), [], 'nobody held a poll');
  const d2 = sentId(manager.send('a', '"d2"'));
  t.ok(d2 > p1.id);
  t.equal(manager.status('a').queued, 3, 'status counts d1 (delivered, not acknowledged), the pending publish and d2');

  manager.onPoll(0, 2, 'a', d1);
  t.same(links.take(), [{ worker: 0, handle: 2, body: bodyOf(d2, ['"p1"', '"d2"']) }], 'merged by id, cursor the last');
  // The answer was lost: polling again with the old cursor gets the same messages, no more, no fewer.
  manager.onPoll(0, 3, 'a', d1);
  t.same(links.take(), [{ worker: 0, handle: 3, body: bodyOf(d2, ['"p1"', '"d2"']) }], 'redelivered after a lost answer');
  manager.onPoll(0, 4, 'a', d2);
  t.same(links.take(), [], 'acknowledged: the poll is held, nothing twice');
  t.equal(manager.status('a').queued, 0);

  // b has never polled; it gets the publish once too.
  manager.onPoll(1, 5, 'b', 0);
  t.same(links.take(), [{ worker: 1, handle: 5, body: bodyOf(p1.id, ['"p1"']) }]);
  manager.onPoll(1, 6, 'b', p1.id);
  t.same(links.take(), []);
  t.match(manager.stats(), { groups: 1, memberships: 2, group_messages: 1, sent: 4, held_polls: 2 });
});

t.test('held members get a publish at once, one id, one body; a cursor above the id waits', async (t) => {
  const { links, manager } = setup();
  manager.join(['h1', 'h2', 'late', 'future'], 'g');
  manager.onPoll(0, 1, 'h1', 0);
  manager.onPoll(1, 2, 'h2', 0);
  const future = 2 ** 52;
  manager.onPoll(0, 3, 'future', future);
  const p = published(manager.publish('g', '{"x":1}'));
  t.same(p, { id: p.id, queued: 4, full: 0 });
  const body = bodyOf(p.id, ['{"x":1}']);
  t.same(links.take(), [
    { worker: 0, handle: 1, body },
    { worker: 1, handle: 2, body },
  ], 'both held polls answered with the same body; the future cursor keeps waiting');
  t.equal(manager.stats().held_polls, 1);
  manager.onPoll(0, 4, 'late', 0);
  t.same(links.take(), [{ worker: 0, handle: 4, body }], 'a member polling later gets the same id');
});

t.test('a client that joins after a publish does not get it', async (t) => {
  const { links, manager } = setup();
  manager.join(['first'], 'g');
  const p1 = published(manager.publish('g', '1'));
  manager.join(['second'], 'g');
  const p2 = published(manager.publish('g', '2'));
  t.equal(p2.queued, 2);
  manager.onPoll(0, 1, 'second', 0);
  t.same(links.take(), [{ worker: 0, handle: 1, body: bodyOf(p2.id, ['2']) }]);
  manager.onPoll(0, 2, 'first', 0);
  t.same(links.take(), [{ worker: 0, handle: 2, body: bodyOf(p2.id, ['1', '2']) }]);
  t.ok(p1.id < p2.id);
});

t.test('a member of several groups gets each publish once, in id order', async (t) => {
  const { links, manager } = setup();
  manager.join(['m'], 'x');
  manager.join(['m'], 'y');
  t.same(manager.join(['m'], 'x'), { ok: true, members: 1 }, 'joining again changes nothing');
  t.same(manager.groupsOf('m').sort(), ['x', 'y']);
  const ids: number[] = [];
  const data: string[] = [];
  for (let i = 0; i < 6; i++) {
    const group = i % 3 === 0 ? 'x' : 'y';
    ids.push(published(manager.publish(group, String(i))).id);
    data.push(String(i));
    if (i === 3) {
      ids.push(sentId(manager.send('m', '"direct"')));
      data.push('"direct"');
    }
  }
  manager.onPoll(0, 1, 'm', 0);
  t.same(links.take(), [{ worker: 0, handle: 1, body: bodyOf(ids.at(-1)!, data) }]);
});

t.test('a long backlog is cut by the delivery size and the rest follows, in order', async (t) => {
  const clock = new FakeClock();
  const links = new FakeLinks(1);
  const manager = new Manager({ ttlMs: TTL, maxQueue: 100, now: clock.now, sleep: clock.sleep, maxDeliveryBytes: 48 + 3 * 11 }, links.links);
  manager.join(['m'], 'g');
  const ids: number[] = [];
  for (let i = 0; i < 5; i++) ids.push(i % 2 === 0 ? published(manager.publish('g', `"msg-${i}xx"`)).id : sentId(manager.send('m', `"msg-${i}xx"`)));
  manager.onPoll(0, 1, 'm', 0);
  t.same(links.take(), [{ worker: 0, handle: 1, body: bodyOf(ids[2]!, ['"msg-0xx"', '"msg-1xx"', '"msg-2xx"']) }]);
  manager.onPoll(0, 2, 'm', ids[2]!);
  t.same(links.take(), [{ worker: 0, handle: 2, body: bodyOf(ids[4]!, ['"msg-3xx"', '"msg-4xx"']) }]);
});

t.test('leave: no later publish, earlier ones stay queued; errors change nothing', async (t) => {
  const { links, manager } = setup();
  manager.join(['a', 'b', 'c'], 'g');
  const before = published(manager.publish('g', '"before"'));
  t.same(manager.leave(['a', 'zzz'], 'g'), { ok: false, code: 'not_member', client: 'zzz' }, 'all or nothing');
  t.same(manager.group('g', 10)?.members, 3, 'nobody left');
  t.same(manager.leave(['a'], 'nope'), { ok: false, code: 'unknown_group' });
  t.same(manager.leave(['a', 'b'], 'g'), { ok: true, members: 1 });
  t.same(manager.groupsOf('a'), []);
  const after = published(manager.publish('g', '"after"'));
  t.equal(after.queued, 1, 'only c');
  t.equal(manager.status('a').queued, 1, 'the publish from before the leave stays queued for a');
  manager.onPoll(0, 1, 'a', 0);
  t.same(links.take(), [{ worker: 0, handle: 1, body: bodyOf(before.id, ['"before"']) }]);
  t.same(manager.leave(['c'], 'g'), { ok: true, members: 0 });
  t.same(manager.group('g', 0), null, 'the last leave deletes the group');
  t.same(manager.publish('g', '1'), { ok: false, code: 'unknown_group' });
  t.match(manager.stats(), { groups: 0, memberships: 0, group_messages: 0 });
  manager.onPoll(0, 2, 'a', before.id);
  manager.onGone(0, 2);
  manager.onPoll(0, 3, 'b', before.id);
  manager.onGone(0, 3);
  t.match(manager.stats(), { clients: 1, queued: 2 }, 'only c is left, with both publishes queued for it');
});

t.test('a member gone for the timeout loses its memberships, not its queued messages', async (t) => {
  const { clock, links, manager } = setup({ memberTimeoutMs: 30_000 });
  manager.join(['gone', 'stays', 'polls'], 'g');
  manager.onPoll(0, 1, 'stays', 0); // held throughout
  manager.onPoll(0, 2, 'polls', 0);
  manager.onGone(0, 2);
  clock.advance(25_000);
  const p = published(manager.publish('g', '"late"'));
  links.take();
  manager.onPoll(0, 3, 'stays', p.id);
  manager.onPoll(1, 4, 'polls', p.id);
  manager.onGone(1, 4); // polls' last poll ended at 25 s
  clock.advance(5_000);
  manager.expire();
  t.same(manager.groupsOf('gone'), [], 'no poll for 30 s: out of every group');
  t.same(manager.groupsOf('stays'), ['g'], 'a held poll keeps its membership');
  t.same(manager.groupsOf('polls'), ['g'], 'so does a poll 5 s ago');
  t.equal(manager.status('gone').queued, 1, 'the publish queued before stays queued for it');
  t.equal(manager.group('g', 0)?.members, 2);
  clock.advance(30_000);
  manager.expire();
  t.same(manager.groupsOf('polls'), [], 'its timeout came too');
  t.same(manager.groupsOf('stays'), ['g']);
  t.match(manager.stats(), { memberships: 1, clients: 1, queued: 0 }, 'the others are forgotten once their messages expired');
});

t.test('--max-queue per member: full members are counted and never get the publish', async (t) => {
  const { links, manager } = setup({ maxQueue: 2 });
  manager.join(['busy', 'free'], 'g');
  sentId(manager.send('busy', '1'));
  sentId(manager.send('busy', '2'));
  const p = published(manager.publish('g', '"p"'));
  t.same(p, { id: p.id, queued: 1, full: 1 });
  t.match(manager.stats(), { refused: 1, refused_queue_full: 1 });
  const p2 = published(manager.publish('g', '"p2"'));
  t.same(p2, { id: p2.id, queued: 1, full: 1 });
  t.same(manager.send('free', '"x"'), { ok: false, code: 'queue_full', client: 'free' }, 'pending publishes count towards --max-queue');
  manager.onPoll(0, 1, 'busy', 0);
  const polled = links.take();
  t.equal(polled.length, 1);
  t.notMatch(polled[0]!.body, /"p"/, 'busy never gets a publish it was full for');
  manager.onPoll(0, 2, 'busy', JSON.parse(polled[0]!.body).cursor);
  const p3 = published(manager.publish('g', '"p3"'));
  t.same(p3, { id: p3.id, queued: 1, full: 1 }, 'free is full now (p, p2 pending); busy has room again');
  t.same(links.take(), [{ worker: 0, handle: 2, body: bodyOf(p3.id, ['"p3"']) }]);
});

t.test('a publish expires after the TTL for every member', async (t) => {
  const { clock, links, manager } = setup();
  manager.join(['a'], 'g');
  published(manager.publish('g', '"old"'));
  clock.advance(5_000);
  const fresh = published(manager.publish('g', '"new"'));
  clock.advance(5_000);
  t.equal(manager.status('a').queued, 1);
  manager.onPoll(0, 1, 'a', 0);
  t.same(links.take(), [{ worker: 0, handle: 1, body: bodyOf(fresh.id, ['"new"']) }], 'the expired one is not delivered');
  clock.advance(5_000);
  manager.expire();
  t.match(manager.stats(), { group_messages: 0 }, 'the sweep drops it from the log');
});

t.test('join limits: too many groups, memory; all or nothing', async (t) => {
  const { manager } = setup();
  for (let i = 0; i < MAX_GROUPS_PER_CLIENT; i++) t.equal(manager.join(['busy'], `g${i}`).ok, true);
  t.same(manager.join(['fresh', 'busy'], 'another'), { ok: false, code: 'too_many_groups', client: 'busy' });
  t.same(manager.groupsOf('fresh'), [], 'nobody joined');
  t.same(manager.group('another', 0), null);
  t.same(manager.join(['busy'], 'g0'), { ok: true, members: 1 }, 'a group it is in is fine');

  const small = setup({ maxMemory: 2000 });
  t.equal(small.manager.join(['a'], 'g').ok, true);
  const used = small.manager.memoryUsed();
  t.ok(used > 0 && used < 2000);
  t.same(small.manager.publish('g', JSON.stringify('x'.repeat(2000))), { ok: false, code: 'memory_full' });
  t.match(small.manager.stats(), { group_messages: 0, refused_memory_full: 1 });
  const many = Array.from({ length: 100 }, (_, i) => `c${i}`);
  t.same(small.manager.join(many, 'g'), { ok: false, code: 'memory_full', client: 'c0' });
  t.equal(small.manager.group('g', 0)?.members, 1, 'nobody joined');
  t.equal(small.manager.memoryUsed(), used);
});

t.test('the data of a publish counts once towards the budget, whatever the member count', async (t) => {
  const { manager } = setup({ maxMemory: 10_000_000 });
  const members = Array.from({ length: 1000 }, (_, i) => `m${i}`);
  manager.join(members, 'g');
  const before = manager.memoryUsed();
  published(manager.publish('g', JSON.stringify('y'.repeat(1000))));
  t.equal(manager.memoryUsed() - before, 1002 + 40, 'data once plus one log entry');
});

t.test('group lists members up to a limit', async (t) => {
  const { manager } = setup();
  manager.join(['a', 'b', 'c'], 'g');
  t.same(manager.group('g', 0), { members: 3, clients: [] });
  t.same(manager.group('g', 2)?.clients.length, 2);
  t.same(manager.group('g', 10)?.clients.sort(), ['a', 'b', 'c']);
  t.same(manager.group('none', 10), null);
});

t.test('a takeover export carries every pending publish as a queued message', async (t) => {
  const { manager } = setup();
  manager.join(['a', 'b'], 'g');
  const d = sentId(manager.send('a', '"d"'));
  const p = published(manager.publish('g', '"p"'));
  const state = manager.exportState();
  const byClient = Object.fromEntries(state.queues.map((q) => [q.client, q]));
  t.same(byClient.a?.ids, [d, p.id]);
  t.same(byClient.a?.data, ['"d"', '"p"']);
  t.same(byClient.b?.ids, [p.id]);
});

t.test('a member that leaves and polls in between keeps its entry consistent', async (t) => {
  const { links, manager } = setup();
  manager.join(['x'], 'g');
  manager.onPoll(0, 1, 'x', 0);
  manager.leave(['x'], 'g');
  const id = sentId(manager.send('x', '1'));
  t.same(links.take(), [{ worker: 0, handle: 1, body: bodyOf(id, ['1']) }], 'its held poll still works');
  manager.onPoll(0, 2, 'x', id);
  manager.onPoll(1, 3, 'x', id);
  t.same(links.take(), [{ worker: 0, handle: 2, body: RELEASED }]);
  manager.onGone(1, 3);
  t.match(manager.stats(), { clients: 0, held_polls: 0 });
});

t.test('random joins, leaves, publishes and polls agree with a model', async (t) => {
  const { links, manager } = setup({ maxQueue: 100_000 });
  const CLIENTS = 24;
  const GROUPS = 6;
  let seed = 12345;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const model = new Map<string, Set<string>>();
  const expected = new Map<string, number[]>();
  const cursor = new Map<string, number>();
  const client = (i: number): string => `c${i}`;
  const group = (i: number): string => `g${i}`;
  let handle = 1;
  let mismatches = 0;
  for (let step = 0; step < 3000; step++) {
    const c = client(random(CLIENTS));
    const g = group(random(GROUPS));
    const op = random(10);
    const groups = model.get(c) ?? new Set<string>();
    if (op < 3) {
      manager.join([c], g);
      groups.add(g);
      model.set(c, groups);
    } else if (op < 5) {
      const result = manager.leave([c], g);
      if (groups.has(g)) {
        if (!result.ok) mismatches++;
        groups.delete(g);
      } else if (result.ok) {
        mismatches++;
      }
    } else if (op < 8) {
      const result = manager.publish(g, String(step));
      const members = [...model].filter(([, set]) => set.has(g)).map(([name]) => name);
      if (members.length === 0) {
        if (result.ok) mismatches++;
      } else if (!result.ok || result.queued !== members.length) {
        mismatches++;
      } else {
        for (const m of members) expected.set(m, [...(expected.get(m) ?? []), result.id]);
      }
    } else {
      const since = cursor.get(c) ?? 0;
      const h = handle++;
      manager.onPoll(0, h, c, since);
      const got = links.take();
      const want = expected.get(c) ?? [];
      if (want.length === 0) {
        if (got.length !== 0) mismatches++;
        manager.onGone(0, h);
      } else {
        const body = JSON.parse(got[0]?.body ?? '{"cursor":-1,"messages":[]}') as { cursor: number; messages: number[] };
        if (got.length !== 1 || body.cursor !== want.at(-1) || body.messages.length !== want.length) mismatches++;
        cursor.set(c, body.cursor);
        expected.set(c, []);
        manager.onPoll(0, handle, c, body.cursor); // acknowledges; held, then gone
        manager.onGone(0, handle++);
      }
    }
    for (const [name, set] of model) {
      if ([...set].sort().join() !== manager.groupsOf(name).sort().join()) mismatches++;
    }
    for (let i = 0; i < GROUPS; i++) {
      const members = [...model].filter(([, set]) => set.has(group(i))).map(([name]) => name).sort();
      const info = manager.group(group(i), 100);
      if ((info?.clients.sort().join() ?? '') !== members.join()) mismatches++;
    }
  }
  t.equal(mismatches, 0, 'memberships, member lists, publish counts and deliveries all as the model says');
  t.ok(manager.stats().memberships > 0);
});

t.test('a membership never ends before its timeout, whatever the clock\'s fraction of a second', async (t) => {
  for (const offset of [0, 1, 500, 999]) {
    const { clock, manager } = setup({ memberTimeoutMs: 30_000 });
    clock.advance(offset);
    manager.join(['m'], 'g');
    clock.advance(30_000 - 1);
    manager.expire();
    t.same(manager.groupsOf('m'), ['g'], `joined at +${offset} ms: still a member 1 ms before the timeout`);
    clock.advance(2_001);
    manager.expire();
    t.same(manager.groupsOf('m'), [], `joined at +${offset} ms: gone within 2 s after it`);
  }
});

t.test('only members without a held poll are tracked for the timeout', async (t) => {
  const { links, manager } = setup();
  manager.join(['a', 'b', 'c'], 'g');
  t.equal(manager.groupMemory().unheld, 3, 'joined, never polled');
  manager.onPoll(0, 1, 'a', 0);
  manager.onPoll(0, 2, 'b', 0);
  t.equal(manager.groupMemory().unheld, 1, 'a and b hold polls');
  const p = published(manager.publish('g', '1'));
  t.equal(links.take().length, 2);
  t.equal(manager.groupMemory().unheld, 3, 'answered: between polls');
  manager.onPoll(0, 3, 'a', p.id);
  manager.onPoll(0, 4, 'b', p.id);
  manager.onPoll(0, 5, 'c', p.id);
  t.equal(manager.groupMemory().unheld, 0, 'all held again');
  manager.join(['a'], 'h');
  t.equal(manager.groupMemory().unheld, 0, 'a join of a held client does not track it');
  manager.onGone(0, 5);
  t.equal(manager.groupMemory().unheld, 1, 'its poll ended');
});
