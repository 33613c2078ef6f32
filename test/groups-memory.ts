// Memory of groups from exact counts of the typed arrays (not RSS): bytes per
// membership, and that a queued publish costs nothing per member (the data and
// one log entry once, whatever the member count). MEGACOMET_GROUP_MEMBERS sets
// the size (default 100,000: seconds on CI).
import t from 'tap';
import { Manager } from '../src/manager/manager.js';
import { FakeClock, FakeLinks } from './helpers/manager-fakes.js';
import { GROUP_MESSAGE_BYTES } from '../src/manager/memory-budget.js';

const MEMBERS = Number(process.env.MEGACOMET_GROUP_MEMBERS ?? 100_000);
/**
 * Exact bytes per membership of a client in one group: 8 in the group's arrays and 8 in the
 * client's own words; pages and the group's growth slack (at most 12.5%) come on top.
 */
const BUDGET_ONE_GROUP = 17.5;
/** A client in several groups: 8 in each group's arrays and a 12-byte record each, its 8 B of words shared. */
const BUDGET_SEVERAL_GROUPS = 22;
const BATCH = 10_000;

function ids(prefix: string, from: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${(from + i).toString(36).padStart(10, '0')}`);
}

function setup() {
  const clock = new FakeClock();
  const manager = new Manager({ ttlMs: 60_000, maxQueue: 1000, now: clock.now, sleep: clock.sleep }, new FakeLinks(2).links);
  return { clock, manager };
}

function totalBytes(manager: Manager): number {
  const m = manager.groupMemory();
  return m.byGroup + m.records + m.heads;
}

t.test(`one group of ${MEMBERS} members`, async (t) => {
  const { manager } = setup();
  for (let i = 0; i < MEMBERS; i += BATCH) t.equal(manager.join(ids('c', i, Math.min(BATCH, MEMBERS - i)), 'big').ok, true);
  const memory = manager.groupMemory();
  const perMembership = totalBytes(manager) / MEMBERS;
  t.comment(`per membership: ${perMembership.toFixed(2)} B (group arrays ${(memory.byGroup / MEMBERS).toFixed(2)}, records ${(memory.records / MEMBERS).toFixed(2)}, client words ${(memory.heads / MEMBERS).toFixed(2)})`);
  t.equal(memory.records, 0, 'a client in one group needs no record');
  t.equal(memory.unheld, MEMBERS, 'none has polled: each waits in the timeout Map too (about 37 B of heap, not counted above)');
  t.ok(perMembership <= BUDGET_ONE_GROUP, `at most ${BUDGET_ONE_GROUP} B per membership: ${perMembership.toFixed(2)}`);
  t.ok(perMembership >= 16, 'at least the 16 B the layout needs: the count is real');

  const before = { bytes: totalBytes(manager), budget: manager.memoryUsed(), stats: manager.stats() };
  const data = JSON.stringify('z'.repeat(100));
  const PUBLISHES = 20;
  for (let i = 0; i < PUBLISHES; i++) {
    const result = manager.publish('big', data);
    t.ok(result.ok && result.queued === MEMBERS, `publish ${i} queued for every member`);
  }
  const after = manager.stats();
  t.equal(totalBytes(manager), before.bytes, 'no byte of the membership arrays per member per publish');
  t.equal(after.queued, 0, 'no per-member queue entry');
  t.equal(after.clients, before.stats.clients, 'no client state made');
  t.equal(after.group_messages, PUBLISHES, 'one log entry per publish');
  t.equal(manager.memoryUsed() - before.budget, PUBLISHES * (data.length + GROUP_MESSAGE_BYTES), 'the budget counts the data once per publish');
  t.equal(manager.status(ids('c', MEMBERS - 1, 1)[0]!).queued, PUBLISHES, 'and each member has every one pending');
  t.comment(`per member per queued publish: ${((totalBytes(manager) - before.bytes) / (MEMBERS * PUBLISHES)).toFixed(2)} B beyond the log (${GROUP_MESSAGE_BYTES} B + data, once per publish)`);
});

t.test('many clients in several groups each', async (t) => {
  const { manager } = setup();
  const clients = Math.max(1000, Math.floor(MEMBERS / 10));
  const GROUPS = 10;
  for (let g = 0; g < GROUPS; g++) {
    for (let i = 0; i < clients; i += BATCH) t.equal(manager.join(ids('m', i, Math.min(BATCH, clients - i)), `g${g}`).ok, true);
  }
  const per = totalBytes(manager) / (clients * GROUPS);
  t.comment(`${clients} clients x ${GROUPS} groups: ${per.toFixed(2)} B per membership`);
  t.ok(per <= BUDGET_SEVERAL_GROUPS, `at most ${BUDGET_SEVERAL_GROUPS} B per membership: ${per.toFixed(2)}`);
  t.ok(per >= 20, 'at least the 20 B the layout needs');

  // Leaving and joining again reuses what was freed: no growth under churn.
  const peak = totalBytes(manager);
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < clients; i += BATCH) manager.leave(ids('m', i, Math.min(BATCH, clients - i)), 'g3');
    for (let i = 0; i < clients; i += BATCH) manager.join(ids('m', i, Math.min(BATCH, clients - i)), 'g3');
  }
  t.ok(totalBytes(manager) <= peak, `churn stays within the peak (${totalBytes(manager)} <= ${peak})`);
  t.equal(manager.stats().memberships, clients * GROUPS);
});
