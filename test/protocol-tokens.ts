// PROTOCOL.md section 3, subscriber tokens with --secret, plus --cors-origin
// (section 1, Cross-origin) on the same server. Tokens are computed here with
// node:crypto straight from the text; the project's exported signToken must
// agree with them.
import { createRequire } from 'node:module';
import t, { type Test } from 'tap';
import { AppConnection } from './helpers/app-client.js';
import { expectCors, expectJsonError, expectPollResponse } from './helpers/expect.js';
import { RawHttpConnection, type HttpResponse } from './helpers/http-client.js';
import { runJsonp } from './helpers/poll.js';
import { ROOT, startServer } from './helpers/server.js';
import { tokenFor } from './helpers/tokens.js';

const SECRET = 'subscriber-secret';
const ORIGIN = 'https://app.example';
const server = await startServer(t, ['--threads', '2', '--poll-timeout', '1', '--secret', SECRET, '--cors-origin', ORIGIN]);
const app = await AppConnection.open(server.appPort, t);
const now = (): number => Math.floor(Date.now() / 1000);

async function get(t: Test, target: string): Promise<HttpResponse> {
  const conn = await RawHttpConnection.open(server.httpPort, t);
  const res = await conn.get(target);
  conn.destroy();
  return res;
}

/** Queues a message for `client`, so an accepted poll answers at once. */
async function primed(client: string): Promise<number> {
  return app.sendTo(client, `for ${client}`);
}

t.test('§3 tokens: a poll without a token is 403', async (t) => {
  await primed('tok-none');
  expectJsonError(t, await get(t, '/poll?client=tok-none'), 403, ORIGIN);
});

t.test('§3 tokens: a wrong token is 403', async (t) => {
  await primed('tok-wrong');
  const cases: Array<[string, string]> = [
    ['garbage', 'not-a-token'],
    ['empty', ''],
    ["another client's token", tokenFor(SECRET, 'tok-other')],
    ['signed with another secret', tokenFor(`${SECRET}x`, 'tok-wrong')],
    ['one character changed', (() => {
      const good = tokenFor(SECRET, 'tok-wrong');
      return (good[0] === 'A' ? 'B' : 'A') + good.slice(1);
    })()],
    ['truncated', tokenFor(SECRET, 'tok-wrong').slice(0, -1)],
    ['the right token with an extra character', `${tokenFor(SECRET, 'tok-wrong')}A`],
  ];
  for (const [name, token] of cases) {
    await t.test(name, async (t) => {
      expectJsonError(t, await get(t, `/poll?client=tok-wrong&token=${encodeURIComponent(token)}`), 403, ORIGIN);
    });
  }
});

t.test('§3 tokens: the right token is accepted', async (t) => {
  const id = await primed('tok-right');
  const token = tokenFor(SECRET, 'tok-right');
  t.match(token, /^[A-Za-z0-9_-]{43}$/, 'base64url, unpadded');
  const body = expectPollResponse(t, await get(t, `/poll?client=tok-right&token=${token}`), ORIGIN);
  t.equal(body.cursor, id);
  t.same(body.messages, ['for tok-right']);
});

t.test('§3 tokens: expiring EXP.SIG tokens', async (t) => {
  await t.test('an unexpired token is accepted', async (t) => {
    const id = await primed('tok-exp-ok');
    const body = expectPollResponse(t, await get(t, `/poll?client=tok-exp-ok&token=${tokenFor(SECRET, 'tok-exp-ok', now() + 3600)}`), ORIGIN);
    t.equal(body.cursor, id);
  });
  await t.test('an expired token is 403', async (t) => {
    await primed('tok-exp-old');
    expectJsonError(t, await get(t, `/poll?client=tok-exp-old&token=${tokenFor(SECRET, 'tok-exp-old', now() - 60)}`), 403, ORIGIN);
  });
  await t.test('a changed EXP with the old signature is 403', async (t) => {
    await primed('tok-exp-forged');
    const exp = now() - 60;
    const sig = tokenFor(SECRET, 'tok-exp-forged', exp).split('.')[1];
    expectJsonError(t, await get(t, `/poll?client=tok-exp-forged&token=${exp + 7200}.${sig}`), 403, ORIGIN);
  });
  await t.test('a plain signature used with an EXP prefix is 403', async (t) => {
    await primed('tok-exp-mixed');
    expectJsonError(t, await get(t, `/poll?client=tok-exp-mixed&token=${now() + 3600}.${tokenFor(SECRET, 'tok-exp-mixed')}`), 403, ORIGIN);
  });
});

t.test('§3 tokens: a repeated token is 400', async (t) => {
  const token = tokenFor(SECRET, 'tok-rep');
  expectJsonError(t, await get(t, `/poll?client=tok-rep&token=${token}&token=${token}`), 400, ORIGIN);
});

t.test('§1 JSONP errors: a 403 with a valid callback is a 200 JSONP body with status 403', async (t) => {
  const res = await get(t, '/poll?client=tok-jsonp&callback=onPoll');
  t.equal(res.status, 200);
  t.equal(res.headers['content-type'], 'application/javascript; charset=utf-8');
  expectCors(t, res, ORIGIN);
  const value = runJsonp(res.text, 'onPoll') as { error?: unknown; message?: unknown; status?: unknown };
  t.equal(value.status, 403);
  t.type(value.error, 'string');
  t.type(value.message, 'string');
});

t.test('§1 cross-origin: --cors-origin is sent on every response', async (t) => {
  const conn = await RawHttpConnection.open(server.httpPort, t);
  expectCors(t, await conn.get('/health'), ORIGIN);
  expectCors(t, await get(t, '/missing'), ORIGIN);
  expectCors(t, await get(t, '/poll?client=a.b'), ORIGIN);
  const preflight = await (await RawHttpConnection.open(server.httpPort, t)).request('OPTIONS', '/poll', { Origin: ORIGIN, 'Access-Control-Request-Method': 'GET' });
  t.equal(preflight.status, 204);
  expectCors(t, preflight, ORIGIN);
});

t.test("§3 tokens: the project's exported signToken agrees with the protocol text", async (t) => {
  const require = createRequire(import.meta.url);
  let lib: { signToken?: (secret: string, client: string, exp?: number) => string };
  try {
    lib = (await import(require.resolve(`${ROOT}dist/client/index.js`))) as typeof lib;
  } catch (err) {
    t.fail(`cannot load dist/client/index.js: ${(err as Error).message}`);
    return;
  }
  t.type(lib.signToken, 'function', 'signToken is exported');
  if (typeof lib.signToken !== 'function') return;
  for (const client of ['a', 'user:42', 'Z'.repeat(64)]) {
    t.equal(lib.signToken(SECRET, client), tokenFor(SECRET, client), `plain token for ${client}`);
    t.equal(lib.signToken(SECRET, client, 1893456000), tokenFor(SECRET, client, 1893456000), `expiring token for ${client}`);
  }
  const id = await primed('tok-lib');
  const body = expectPollResponse(t, await get(t, `/poll?client=tok-lib&token=${lib.signToken(SECRET, 'tok-lib', now() + 60)}`), ORIGIN);
  t.equal(body.cursor, id, "the server accepts the library's token");
});
