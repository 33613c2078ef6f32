// The client library's AppClient against a real app server.
import t from 'tap';
import { AppClient, AppRequestError } from '../src/client/index.js';
import { startHarness } from './helpers/app-harness.js';

t.test('AppClient speaks every op', async (t) => {
  const h = await startHarness({ secret: 'pw', maxQueue: 1 });
  t.teardown(() => h.close());
  const client = await AppClient.connect({ port: h.server.port });
  t.teardown(() => client.close());

  await t.rejects(client.stats(), { name: 'AppRequestError', code: 'unauthorized' }, 'errors reject with their code');
  await t.rejects(client.auth('nope'), { code: 'unauthorized' });
  await client.auth('pw');

  h.manager.onPoll(0, 1, 'x', 0);
  const id = await client.send('x', { big: 1, list: [1, 'two'] });
  t.ok(Number.isSafeInteger(id), 'send resolves to the id');
  t.same(h.links.take(), [{ worker: 0, handle: 1, body: `{"cursor":${id},"messages":[{"big":1,"list":[1,"two"]}]}` }]);

  const ids = await client.sendMany(['y', 'z'], 'hello');
  t.equal(ids.length, 2);
  t.same(await client.status('x'), { connected: false, queued: 1, groups: [] });
  const stats = await client.stats();
  t.match(stats, { clients: 3, sent: 3, connections: 7, held_polls: 3 });

  const full = await client.send('y', 1).catch((err: unknown) => err);
  t.ok(full instanceof AppRequestError && full.code === 'queue_full', 'queue_full rejects with its code');

  t.match(await client.request('{"op":"send","client":"w","data":12345678901234567890}'), { ok: true }, 'raw lines keep big numbers');
  t.match(await client.request('{"op":"nope"}'), { ok: false, error: 'unknown_op' }, 'request resolves with error replies');
  await t.rejects(client.request('{}\n{}'), /newline/);
  await t.rejects(client.send('x', undefined), TypeError, 'undefined is not JSON');
});

t.test('requests issued together are answered in order', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const client = await AppClient.connect({ host: '127.0.0.1', port: h.server.port });
  t.teardown(() => client.close());
  const ids = await Promise.all(Array.from({ length: 200 }, (_, i) => client.send(`c${i % 3}`, i)));
  t.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]!), 'ids increase in the order the sends were issued');
});

t.test('waiting requests are rejected when the connection closes', async (t) => {
  const h = await startHarness({ maxLine: 100 });
  t.teardown(() => h.close());
  const client = await AppClient.connect({ port: h.server.port, reconnect: false });
  const big = client.request(`{"op":"stats","ref":"${'x'.repeat(200)}"}`);
  const after = client.stats();
  t.match(await big, { error: 'too_large' });
  await t.rejects(after, /closed/);
  await t.rejects(client.stats(), /closed/, 'and, without reconnect, later ones at once');
});

t.test('connect rejects when nothing listens', async (t) => {
  const h = await startHarness();
  const port = h.server.port;
  await h.close();
  await t.rejects(AppClient.connect({ port }), { code: 'ECONNREFUSED' });
});
