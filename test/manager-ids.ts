// Message ids: positive, below 2^53, strictly increasing, never reused, and
// above every earlier id after a restart (PROTOCOL.md section 1).
import t from 'tap';
import { DEFAULT_ID_LEAD_MS, IdCounter } from '../src/manager/id-counter.js';
import { Manager } from '../src/manager/manager.js';
import { FakeClock, FakeLinks } from './helpers/manager-fakes.js';

function newManager(clock: FakeClock): Manager {
  return new Manager({ ttlMs: 1000, maxQueue: 100_000, now: clock.now, sleep: clock.sleep }, new FakeLinks(1).links);
}

function idOf(result: ReturnType<Manager['send']>): number {
  if (!result.ok) throw new Error(`${result.code} for ${result.client}`);
  return result.id;
}

t.test('ids increase strictly across clients, even when the clock stands still or goes back', async (t) => {
  const clock = new FakeClock();
  const manager = newManager(clock);
  const ids: number[] = [];
  for (let i = 0; i < 3000; i++) {
    ids.push(idOf(manager.send(`c${i % 7}`, '1')));
    if (i === 1000) clock.advance(-60_000);
    if (i === 2000) clock.advance(120_000);
  }
  let increasing = true;
  for (let i = 1; i < ids.length; i++) if (!(ids[i]! > ids[i - 1]!)) increasing = false;
  t.ok(increasing, 'every id is above the one before');
  t.ok(ids.every((id) => Number.isSafeInteger(id) && id > 0 && id < 2 ** 53), 'positive integers below 2^53');
  t.equal(ids[0], (1_700_000_000_000 + DEFAULT_ID_LEAD_MS) * 1000 + 1, 'the first id is one lead ahead of the clock at start, in ms times 1000');
});

t.test('a restarted manager issues ids above the previous run\'s', async (t) => {
  t.test('one millisecond later, after up to 1000 ids in a millisecond', async (t) => {
    const clock = new FakeClock();
    const before = newManager(clock);
    let last = 0;
    for (let i = 0; i < 1000; i++) last = idOf(before.send('a', '1'));
    clock.advance(1);
    const after = newManager(clock);
    t.ok(idOf(after.send('a', '1')) > last);
  });

  t.test('however far a burst ran ahead, and however soon the restart', async (t) => {
    // The defect this guards: `send` with `clients` past 1M ids/s ran the counter 1.16 s ahead of
    // the clock; a process restarted 0.2 s later issued ids below the old ones, and a client
    // re-polling with its old cursor acknowledged the new message away.
    const clock = new FakeClock();
    const before = new Manager({ ttlMs: 60_000, maxQueue: 1000, now: clock.now, sleep: clock.sleep }, new FakeLinks(1).links);
    const clients = Array.from({ length: 10_000 }, (_, i) => `r${i}`);
    let last = 0;
    for (let burst = 0; burst < 300; burst++) {
      const result = before.sendMany(clients, '1');
      if (!result.ok) throw new Error('refused');
      last = result.ids[result.ids.length - 1]!;
      // Every poll acknowledges what it got, so queues never fill.
      if (burst % 50 === 49) for (const c of clients) before.onPoll(0, 1, c, last);
    }
    // 3M ids with the clock standing still: the counter waited for the clock once a lead ahead.
    t.ok(clock.slept >= 1000, `the counter waited ${clock.slept} ms for the clock instead of running further ahead`);
    t.ok(last <= (clock.ms + DEFAULT_ID_LEAD_MS) * 1000 + 999, 'and never ran more than a lead ahead of it');
    for (const downtime of [1, 200]) {
      const restarted = new FakeClock(clock.ms + downtime);
      const after = new Manager({ ttlMs: 60_000, maxQueue: 1000, now: restarted.now, sleep: restarted.sleep }, new FakeLinks(1).links);
      after.onPoll(0, 7, 'r0', last);
      const id = idOf(after.send('r0', '"new"'));
      t.ok(id > last, `${downtime} ms later the first new id is above every old one`);
    }
  });

  t.test('a burst below the lead costs no waiting', async (t) => {
    const clock = new FakeClock();
    const manager = newManager(clock);
    // A new process starts a whole lead ahead; its room for bursts grows with the time it has run.
    clock.advance(DEFAULT_ID_LEAD_MS);
    for (let i = 0; i < 100_000; i++) idOf(manager.send(`b${i % 50}`, '1'));
    t.equal(clock.slept, 0);
  });
});

t.test('a client whose queue expired and came back never gets an id it had before', async (t) => {
  const clock = new FakeClock();
  const manager = newManager(clock);
  const first = idOf(manager.send('x', '1'));
  clock.advance(2000);
  manager.expire();
  t.equal(manager.stats().clients, 0, 'the queue is gone');
  clock.advance(-5000); // even with the clock set back
  t.ok(idOf(manager.send('x', '2')) > first);
});

t.test('the counter refuses to reach 2^53', async (t) => {
  const start = 2 ** 53 / 1000 - 10_000;
  const ids = new IdCounter(start);
  const seed = ids.lastIssued;
  t.throws(() => ids.next(2 ** 53 / 1000 + 1), /2\^53.*clock/);
  t.equal(ids.lastIssued, seed, 'nothing was issued');
});
