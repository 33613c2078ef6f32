// App peers that send what no app should: bytes that are not UTF-8, and (with
// --app-secret) connections that never authenticate. Each gets a clear error,
// costs bounded memory, and leaves other lines and clients untouched.
import t from 'tap';
import { startHarness } from './helpers/app-harness.js';
import { UNAUTHENTICATED_MAX_LINE } from '../src/manager/app-connection.js';

t.test('a line that is not valid UTF-8 is refused with bad_json, never delivered altered', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const app = await h.connect();
  const bad = Buffer.concat([Buffer.from('{"op":"send","client":"u","data":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}\n')]);
  app.write(bad);
  const reply = JSON.parse(await app.line()) as Record<string, unknown>;
  t.match(reply, { ok: false, error: 'bad_json', message: /UTF-8/ });
  // An overlong encoding and a lone surrogate are not UTF-8 either.
  for (const bytes of [[0xc0, 0xaf], [0xed, 0xa0, 0x80]]) {
    app.write(Buffer.concat([Buffer.from('{"op":"send","client":"u","data":"'), Buffer.from(bytes), Buffer.from('"}\n')]));
    t.match(JSON.parse(await app.line()), { ok: false, error: 'bad_json' }, `bytes ${bytes.map((b) => b.toString(16)).join(' ')}`);
  }
  t.same(h.manager.status('u'), { connected: false, queued: 0 }, 'nothing was queued');
  t.match(await app.request('{"op":"send","client":"u","data":"caf\u00e9 \ud83d\ude00"}'), { ok: true }, 'valid multi-byte UTF-8 still goes through');
});

t.test('with --app-secret, a connection that has not authenticated', async (t) => {
  t.test('may not send a long line: it is cut off at the unauthenticated limit, not at --max-line', async (t) => {
    const h = await startHarness({ secret: 's3cret', maxLine: 1 << 20 });
    t.teardown(() => h.close());
    const app = await h.connect();
    // An unfinished 1 MB line: the server must not buffer it.
    app.write('{"op":"auth","secret":"' + 'x'.repeat(1 << 20));
    const reply = JSON.parse(await app.line()) as Record<string, unknown>;
    t.match(reply, { ok: false, error: 'too_large', message: new RegExp(`${UNAUTHENTICATED_MAX_LINE} bytes`) });
    await app.closed;
    t.pass('and the connection is closed');
  });

  t.test('is closed when it does not authenticate in time', async (t) => {
    const h = await startHarness({ secret: 's3cret', authTimeoutMs: 200 });
    t.teardown(() => h.close());
    const idle = await h.connect();
    const authed = await h.connect();
    t.same(await authed.request('{"op":"auth","secret":"s3cret"}'), { ok: true });
    t.match(JSON.parse(await idle.line()), { ok: false, error: 'unauthorized', message: /within 0.2 s/ });
    await idle.closed;
    t.match(await authed.request('{"op":"stats"}'), { ok: true }, 'an authenticated connection stays');
  });

  t.test('gets the full --max-line once authenticated', async (t) => {
    const h = await startHarness({ secret: 's3cret', maxMessage: 512 * 1024 });
    t.teardown(() => h.close());
    const app = await h.connect();
    t.same(await app.request('{"op":"auth","secret":"s3cret"}'), { ok: true });
    const data = JSON.stringify('y'.repeat(100_000));
    t.match(await app.request(`{"op":"send","client":"big","data":${data}}`), { ok: true });
  });
});
