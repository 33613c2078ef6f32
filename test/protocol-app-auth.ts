// PROTOCOL.md section 2, auth with --app-secret: every request before a
// successful auth is unauthorized, except that lines which are not JSON
// objects still get bad_json / bad_request first; a wrong secret keeps the
// connection open for a retry; authentication belongs to one connection.
import t from 'tap';
import { AppConnection } from './helpers/app-client.js';
import { expectAppError } from './helpers/expect.js';
import { startServer } from './helpers/server.js';

const SECRET = 'app-s3cret';
const server = await startServer(t, ['--threads', '1', '--app-secret', SECRET]);

t.test('§2 auth: requests before auth are unauthorized', async (t) => {
  const app = await AppConnection.open(server.appPort, t);
  for (const request of [{ op: 'stats' }, { op: 'status', client: 'x' }, { op: 'send', client: 'x', data: 1 }, { op: 'nope' }]) {
    const reply = await app.request({ ...request, ref: request.op });
    expectAppError(t, reply, 'unauthorized');
    t.equal(reply.ref, request.op, 'ref is echoed on unauthorized too');
  }
  t.notOk(app.isClosed, 'the connection stays open');
});

t.test('§2 auth: bad JSON and non-objects are still bad_json / bad_request before auth', async (t) => {
  const app = await AppConnection.open(server.appPort, t);
  app.writeRaw('{"op":\n[1,2]\n"x"\n');
  expectAppError(t, await app.readReply(), 'bad_json');
  expectAppError(t, await app.readReply(), 'bad_request');
  expectAppError(t, await app.readReply(), 'bad_request');
});

t.test('§2 auth: a wrong secret is unauthorized and retrying is allowed', async (t) => {
  const app = await AppConnection.open(server.appPort, t);
  expectAppError(t, await app.request({ op: 'auth', secret: 'wrong' }), 'unauthorized');
  expectAppError(t, await app.request({ op: 'auth', secret: `${SECRET}x` }), 'unauthorized');
  expectAppError(t, await app.request({ op: 'auth', secret: SECRET.slice(0, -1) }), 'unauthorized');
  expectAppError(t, await app.request({ op: 'stats' }), 'unauthorized');
  t.notOk(app.isClosed, 'still open after wrong secrets');
  t.has(await app.request({ op: 'auth', secret: SECRET, ref: 1 }), { ok: true, ref: 1 }, 'the right secret is accepted');
  t.equal((await app.request({ op: 'stats' })).ok, true, 'requests work after auth');
  const id = await app.sendTo('auth-1', 'hello');
  t.ok(id > 0, 'sends work after auth');
});

t.test('§2 auth: authentication belongs to one connection', async (t) => {
  const first = await AppConnection.open(server.appPort, t);
  t.equal((await first.request({ op: 'auth', secret: SECRET })).ok, true);
  const second = await AppConnection.open(server.appPort, t);
  expectAppError(t, await second.request({ op: 'stats' }), 'unauthorized');
  t.equal((await first.request({ op: 'stats' })).ok, true);
});

t.test('§2 auth: pipelined auth then requests are answered in order', async (t) => {
  const app = await AppConnection.open(server.appPort, t);
  app.writeRaw(`{"op":"stats","ref":0}\n{"op":"auth","secret":"${SECRET}","ref":1}\n{"op":"stats","ref":2}\n`);
  const before = await app.readReply();
  expectAppError(t, before, 'unauthorized');
  t.equal(before.ref, 0);
  t.has(await app.readReply(), { ok: true, ref: 1 });
  const after = await app.readReply();
  t.equal(after.ok, true);
  t.equal(after.ref, 2);
});
