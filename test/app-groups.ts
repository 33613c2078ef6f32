// The group ops on the app port (PROTOCOL.md section 2): replies, every error
// code, all-or-nothing lists, and the AppClient's typed methods, over a real
// TCP socket against a real Manager with fake worker links.
import t from 'tap';
import { AppClient } from '../src/client/index.js';
import { bodyOf } from './helpers/manager-fakes.js';
import { startHarness } from './helpers/app-harness.js';

t.test('join, publish, group, status, leave: replies as documented', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const app = await h.connect();
  t.same(await app.request('{"op":"join","client":"a","group":"room.1","ref":7}'), { ok: true, members: 1, ref: 7 });
  t.same(await app.request('{"op":"join","clients":["b","c"],"group":"room.1"}'), { ok: true, members: 3 });
  h.manager.onPoll(1, 9, 'b', 0);
  const reply = await app.request('{"op":"publish","group":"room.1","data":{"n":12345678901234567890}}');
  t.same(Object.keys(reply), ['ok', 'id', 'queued', 'full']);
  t.match(reply, { ok: true, queued: 3, full: 0 });
  t.same(h.links.take(), [{ worker: 1, handle: 9, body: bodyOf(reply.id as number, ['{"n":12345678901234567890}']) }], 'data byte for byte');
  t.same(await app.request('{"op":"group","group":"room.1"}'), { ok: true, members: 3 });
  const listed = await app.request('{"op":"group","group":"room.1","limit":2}');
  t.equal((listed.clients as string[]).length, 2);
  t.same(await app.request('{"op":"status","client":"a"}'), { ok: true, connected: false, queued: 1, groups: ['room.1'] });
  t.same(await app.request('{"op":"leave","clients":["a","b"],"group":"room.1"}'), { ok: true, members: 1 });
  t.same(await app.request('{"op":"leave","client":"c","group":"room.1"}'), { ok: true, members: 0 });
  t.match(await app.request('{"op":"stats"}'), { groups: 0, memberships: 0 });
});

t.test('every refusal has its code and changes nothing', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const app = await h.connect();
  const cases: Array<[string, string]> = [
    ['{"op":"publish","group":"nobody","data":1}', 'unknown_group'],
    ['{"op":"group","group":"nobody"}', 'unknown_group'],
    ['{"op":"leave","client":"a","group":"nobody"}', 'unknown_group'],
    ['{"op":"join","client":"a","group":"bad name"}', 'bad_request'],
    ['{"op":"join","client":"a","group":""}', 'bad_request'],
    [`{"op":"join","client":"a","group":"${'g'.repeat(65)}"}`, 'bad_request'],
    ['{"op":"join","client":"a","group":"caf\u00e9"}', 'bad_request'],
    ['{"op":"join","client":"a","group":7}', 'bad_request'],
    ['{"op":"join","client":"a"}', 'bad_request'],
    ['{"op":"join","group":"g"}', 'bad_request'],
    ['{"op":"join","client":"a","clients":["b"],"group":"g"}', 'bad_request'],
    ['{"op":"join","clients":[],"group":"g"}', 'bad_request'],
    ['{"op":"join","clients":["a","a"],"group":"g"}', 'bad_request'],
    ['{"op":"join","client":"a b","group":"g"}', 'bad_request'],
    ['{"op":"publish","group":"g"}', 'bad_request'],
    ['{"op":"publish","data":1}', 'bad_request'],
    ['{"op":"group","group":"g","limit":-1}', 'bad_request'],
    ['{"op":"group","group":"g","limit":10001}', 'bad_request'],
    ['{"op":"group","group":"g","limit":1.5}', 'bad_request'],
    ['{"op":"group","group":"g","limit":"3"}', 'bad_request'],
  ];
  for (const [line, code] of cases) {
    const reply = await app.request(line);
    t.equal(reply.error, code, `${line.slice(0, 80)} -> ${code}`);
    t.ok(typeof reply.message === 'string' && (reply.message as string).length > 10, 'says why');
  }
  t.match(await app.request('{"op":"stats"}'), { groups: 0, memberships: 0, clients: 0 }, 'nothing was made');

  await app.request('{"op":"join","clients":["a","b"],"group":"g"}');
  const notMember = await app.request('{"op":"leave","clients":["a","x","b"],"group":"g"}');
  t.match(notMember, { ok: false, error: 'not_member' });
  t.match(notMember.message, /client x is not in group g/);
  t.same(await app.request('{"op":"group","group":"g"}'), { ok: true, members: 2 }, 'nobody left');
  const big = await app.request(`{"op":"publish","group":"g","data":"${'x'.repeat(70_000)}"}`);
  t.equal(big.error, 'too_large');
  for (let i = 0; i < 100; i++) await app.request(`{"op":"join","client":"a","group":"k${i}"}`);
  const tooMany = await app.request('{"op":"join","clients":["fresh","a"],"group":"k100"}');
  t.match(tooMany, { ok: false, error: 'too_many_groups' });
  t.same(await app.request('{"op":"status","client":"fresh"}'), { ok: true, connected: false, queued: 0, groups: [] }, 'all or nothing');
  t.match(await app.request('{"op":"frobnicate"}'), { error: 'unknown_op', message: /join, leave, publish, group/ });
});

t.test('full members are reported in the reply', async (t) => {
  const h = await startHarness({ maxQueue: 1 });
  t.teardown(() => h.close());
  const app = await h.connect();
  await app.request('{"op":"join","clients":["a","b"],"group":"g"}');
  await app.request('{"op":"send","client":"a","data":0}');
  t.match(await app.request('{"op":"publish","group":"g","data":1}'), { ok: true, queued: 1, full: 1 });
  t.match(await app.request('{"op":"publish","group":"g","data":2}'), { ok: true, queued: 0, full: 2 });
  t.match(await app.request('{"op":"stats"}'), { refused: 3, refused_queue_full: 3 });
});

t.test('AppClient: join, leave, publish, group, typed', async (t) => {
  const h = await startHarness({ secret: 'pw' });
  t.teardown(() => h.close());
  const client = await AppClient.connect({ port: h.server.port, secret: 'pw' });
  t.teardown(() => client.close());
  t.equal(await client.join('solo', 'g'), 1);
  t.equal(await client.join(['x', 'y'], 'g'), 3);
  const outcome = await client.publish('g', { hello: 'world' });
  t.same({ queued: outcome.queued, full: outcome.full }, { queued: 3, full: 0 });
  t.ok(Number.isSafeInteger(outcome.id) && outcome.id > 0);
  t.same(await client.group('g'), { members: 3 });
  const info = await client.group('g', 10);
  t.same(info.clients?.sort(), ['solo', 'x', 'y']);
  t.same(await client.status('x'), { connected: false, queued: 1, groups: ['g'] });
  t.equal(await client.leave(['x', 'y'], 'g'), 1);
  await t.rejects(client.leave('x', 'g'), { code: 'not_member' });
  await t.rejects(client.publish('nobody', 1), { code: 'unknown_group' });
  await t.rejects(client.group('nobody'), { code: 'unknown_group' });
  t.equal(await client.leave('solo', 'g'), 0);
});

t.test('group names that are also object keys are ordinary groups', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const app = await h.connect();
  for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    t.same(await app.request(`{"op":"group","group":"${name}"}`), { ok: false, error: 'unknown_group', message: `no client is in group ${name}; a group exists while it has a member (join one first)` }, `${name}: unknown at first`);
    t.same(await app.request(`{"op":"join","client":"x-${name}","group":"${name}"}`), { ok: true, members: 1 });
    t.match(await app.request(`{"op":"publish","group":"${name}","data":1}`), { ok: true, queued: 1 });
  }
  t.match(await app.request('{"op":"stats"}'), { groups: 4, memberships: 4 });
});
