// --app-secret: every request before a successful auth is unauthorized,
// except that lines that are not JSON objects still get bad_json/bad_request.
import t from 'tap';
import { startHarness } from './helpers/app-harness.js';

t.test('with --app-secret a connection must auth first', async (t) => {
  const h = await startHarness({ secret: 's3cret' });
  t.teardown(() => h.close());
  const app = await h.connect();

  t.test('before auth', async (t) => {
    for (const line of [
      '{"op":"stats"}',
      '{"op":"send","client":"a","data":1}',
      '{"op":"status","client":"a"}',
      '{"op":"nope"}',
      '{}',
      '{"op":"send","client":"bad.id"}',
    ]) {
      t.match(await app.request(line), { ok: false, error: 'unauthorized', message: /auth/ }, line);
    }
    t.match(await app.request('{"op":"stats","ref":[1]}'), { error: 'unauthorized', ref: [1] }, 'ref is still echoed');
    t.match(await app.request('{"op":'), { error: 'bad_json' }, 'broken JSON is still bad_json');
    t.match(await app.request('[1]'), { error: 'bad_request' }, 'a non-object is still bad_request');
    t.equal(h.manager.stats().sent, 0, 'nothing was sent');
  });

  t.test('a wrong secret is refused and the connection stays open', async (t) => {
    for (const secret of ['', 'S3CRET', 's3cre', 's3crett', 's3cret ']) {
      t.match(await app.request(JSON.stringify({ op: 'auth', secret })), { ok: false, error: 'unauthorized' }, JSON.stringify(secret));
    }
    t.match(await app.request('{"op":"auth"}'), { error: 'bad_request' }, 'auth without a secret is bad_request');
    t.match(await app.request('{"op":"stats"}'), { error: 'unauthorized' }, 'still unauthorized');
  });

  t.test('the right secret opens the connection', async (t) => {
    t.same(await app.request('{"op":"auth","secret":"s3cret","ref":"a"}'), { ok: true, ref: 'a' });
    t.match(await app.request('{"op":"stats"}'), { ok: true });
    t.match(await app.request('{"op":"send","client":"a","data":1}'), { ok: true });
    t.match(await app.request('{"op":"auth","secret":"wrong"}'), { error: 'unauthorized' }, 'a later wrong auth is refused');
    t.match(await app.request('{"op":"stats"}'), { ok: true }, 'but leaves the connection authorized');
  });

  t.test('each connection authenticates on its own', async (t) => {
    const other = await h.connect();
    t.match(await other.request('{"op":"stats"}'), { error: 'unauthorized' });
  });
});

t.test('auth and its check are pipelined in order', async (t) => {
  const h = await startHarness({ secret: 'k' });
  t.teardown(() => h.close());
  const app = await h.connect();
  app.write('{"op":"stats","ref":1}\n{"op":"auth","secret":"k"}\n{"op":"stats","ref":3}\n');
  t.match(JSON.parse(await app.line()), { error: 'unauthorized', ref: 1 });
  t.same(JSON.parse(await app.line()), { ok: true });
  t.match(JSON.parse(await app.line()), { ok: true, ref: 3 });
});
