// Message ids: positive, below 2^53, strictly increasing, never reused, and
// above every earlier id after a restart (PROTOCOL.md section 1).
import t from 'tap';
import { IdCounter } from '../src/manager/id-counter.js';
import { Manager } from '../src/manager/manager.js';
import { FakeClock, FakeLinks } from './helpers/manager-fakes.js';

function newManager(clock: FakeClock): Manager {
  return new Manager({ ttlMs: 1000, maxQueue: 100_000, now: clock.now }, new FakeLinks(1).links);
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
  t.equal(ids[0], 1_700_000_000_000 * 1000, 'the first id is the clock in ms times 1000');
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

  t.test('a burst above the rate limit needs as many ms of downtime as it ran ahead', async (t) => {
    const clock = new FakeClock();
    const before = newManager(clock);
    let last = 0;
    for (let i = 0; i < 5000; i++) last = idOf(before.send(`b${i % 50}`, '1'));
    // 5000 ids in 0 ms: 5 ms ahead of the clock (the documented limit).
    clock.advance(5);
    t.ok(idOf(newManager(clock).send('b0', '1')) > last, '5 ms later the new counter is above');
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
  const ids = new IdCounter();
  t.throws(() => ids.next(2 ** 53 / 1000 + 1), /2\^53.*clock/);
  t.equal(ids.lastIssued, 0, 'nothing was issued');
});
