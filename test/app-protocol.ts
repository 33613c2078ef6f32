// The app port's requests, replies and error codes (PROTOCOL.md section 2),
// over a real TCP socket against a real Manager with fake worker links.
import t from 'tap';
import { APP_ERRORS } from '../src/protocol/errors.js';
import { bodyOf } from './helpers/manager-fakes.js';
import { startHarness } from './helpers/app-harness.js';

/** Test names stay ASCII: a raw U+2028 would break the TAP stream. */
function ascii(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

t.test('send queues a message for one client and answers with its id', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const app = await h.connect();
  h.manager.onPoll(1, 77, 'alice', 0);

  const reply = await app.request('{"op":"send","client":"alice","data":{"text":"hi"}}');
  t.same(Object.keys(reply), ['ok', 'id']);
  t.equal(reply.ok, true);
  const id = reply.id as number;
  t.ok(Number.isSafeInteger(id) && id > 0, 'a positive integer id');
  t.same(h.links.take(), [{ worker: 1, handle: 77, body: bodyOf(id, ['{"text":"hi"}']) }], 'the held poll got it');

  const again = await app.request('{"op":"send","client":"alice","data":2}');
  t.ok((again.id as number) > id, 'the next id is larger');
});

t.test('send to clients queues for each, ids in the order of clients', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const app = await h.connect();
  const reply = await app.request('{"op":"send","clients":["b","a","c"],"data":[1]}');
  t.same(Object.keys(reply), ['ok', 'ids']);
  const ids = reply.ids as number[];
  t.equal(ids.length, 3);
  t.ok(ids[0]! < ids[1]! && ids[1]! < ids[2]!, 'increasing in request order');
  for (const client of ['a', 'b', 'c']) t.same(h.manager.status(client), { connected: false, queued: 1 }, `${client} has it`);
  const one = await app.request('{"op":"send","clients":["solo"],"data":0}');
  t.equal((one.ids as number[]).length, 1, 'one recipient is allowed');
});

t.test('status tells whether a poll is held and how many messages are queued', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const app = await h.connect();
  t.same(await app.request('{"op":"status","client":"zed"}'), { ok: true, connected: false, queued: 0, groups: [] });
  h.manager.onPoll(0, 1, 'zed', 0);
  t.same(await app.request('{"op":"status","client":"zed"}'), { ok: true, connected: true, queued: 0, groups: [] });
  await app.request('{"op":"send","client":"zed","data":1}');
  await app.request('{"op":"send","client":"zed","data":2}');
  t.same(await app.request('{"op":"status","client":"zed"}'), { ok: true, connected: false, queued: 2, groups: [] });
});

t.test('stats has every key of the protocol, summed over threads', async (t) => {
  const h = await startHarness({ maxQueue: 1 });
  t.teardown(() => h.close());
  const app = await h.connect();
  h.manager.onPoll(0, 1, 'p', 0);
  await app.request('{"op":"send","client":"p","data":1}');
  await app.request('{"op":"send","client":"q","data":1}');
  await app.request('{"op":"send","client":"q","data":2}'); // refused: queue full
  const stats = await app.request('{"op":"stats"}');
  t.match(stats, {
    ok: true,
    connections: 7,
    held_polls: 3,
    clients: 2,
    queued: 2,
    sent: 2,
    delivered: 1,
    expired: 0,
    refused: 1,
    threads: [
      { connections: 3, held_polls: 1 },
      { connections: 4, held_polls: 2 },
    ],
    app_connections: 1,
    manager_held_polls: 0,
    connections_accepted: 22,
    connections_refused: 1,
  });
  h.threads.push({ connections: 10, held_polls: 5, connections_accepted: 10, connections_refused: 0 });
  t.match(await app.request('{"op":"stats"}'), { connections: 17, held_polls: 8 }, 'read afresh each time');
});

t.test('auth succeeds without --app-secret', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const app = await h.connect();
  t.same(await app.request('{"op":"auth","secret":"anything"}'), { ok: true });
});

t.test('every bad request gets its error code and the connection carries on', async (t) => {
  const h = await startHarness({ maxMessage: 100, maxQueue: 1 });
  t.teardown(() => h.close());
  const app = await h.connect();
  await app.request('{"op":"send","client":"full","data":1}');
  const many = (n: number) => JSON.stringify(Array.from({ length: n }, (_, i) => `c${i}`));
  const cases: Array<[string, keyof typeof APP_ERRORS]> = [
    ['{', 'bad_json'],
    ['{"op":"send",}', 'bad_json'],
    ['nope', 'bad_json'],
    ["{'op':'stats'}", 'bad_json'],
    ['{"op":"stats"} {"op":"stats"}', 'bad_json'],
    ['[1,2]', 'bad_request'],
    ['"stats"', 'bad_request'],
    ['42', 'bad_request'],
    ['null', 'bad_request'],
    ['{}', 'bad_request'],
    ['{"op":5}', 'bad_request'],
    ['{"op":null}', 'bad_request'],
    ['{"op":"nope"}', 'unknown_op'],
    ['{"op":"SEND","client":"a","data":1}', 'unknown_op'],
    ['{"op":"send","data":1}', 'bad_request'],
    ['{"op":"send","client":"a"}', 'bad_request'],
    ['{"op":"send","client":"","data":1}', 'bad_request'],
    ['{"op":"send","client":"a.b","data":1}', 'bad_request'],
    ['{"op":"send","client":"a b","data":1}', 'bad_request'],
    ['{"op":"send","client":"\u00e9","data":1}', 'bad_request'],
    [`{"op":"send","client":"${'x'.repeat(65)}","data":1}`, 'bad_request'],
    ['{"op":"send","client":5,"data":1}', 'bad_request'],
    ['{"op":"send","client":null,"data":1}', 'bad_request'],
    ['{"op":"send","client":"a","clients":["b"],"data":1}', 'bad_request'],
    ['{"op":"send","clients":[],"data":1}', 'bad_request'],
    ['{"op":"send","clients":"a","data":1}', 'bad_request'],
    ['{"op":"send","clients":["a","a"],"data":1}', 'bad_request'],
    ['{"op":"send","clients":["a","b.c"],"data":1}', 'bad_request'],
    ['{"op":"send","clients":["a",1],"data":1}', 'bad_request'],
    [`{"op":"send","clients":${many(10_001)},"data":1}`, 'bad_request'],
    ['{"op":"send","clients":["a"]}', 'bad_request'],
    [`{"op":"send","client":"a","data":"${'x'.repeat(99)}"}`, 'too_large'],
    [`{"op":"send","client":"a","data":"${'\u00e9'.repeat(50)}"}`, 'too_large'],
    [`{"op":"send","clients":["a","b"],"data":[${'1,'.repeat(60)}1]}`, 'too_large'],
    ['{"op":"send","client":"full","data":2}', 'queue_full'],
    ['{"op":"send","clients":["other","full"],"data":2}', 'queue_full'],
    ['{"op":"status"}', 'bad_request'],
    ['{"op":"status","client":"a.b"}', 'bad_request'],
    ['{"op":"auth"}', 'bad_request'],
    ['{"op":"auth","secret":1}', 'bad_request'],
  ];
  for (const [line, code] of cases) {
    const reply = await app.request(line);
    const shown = line.length > 80 ? line.slice(0, 77) + '...' : line;
    t.equal(reply.error, code, `${shown} -> ${code}`);
    t.same(Object.keys(reply), ['ok', 'error', 'message'], `${shown}: only ok, error, message`);
    t.equal(reply.ok, false);
    t.ok(typeof reply.message === 'string' && reply.message.length > 0, `${shown}: says why (${String(reply.message)})`);
  }
  t.same(await app.request('{"op":"status","client":"other"}'), { ok: true, connected: false, queued: 0, groups: [] }, 'the refused multi-send queued nothing');
  t.match(await app.request('{"op":"send","client":"a","data":"' + 'x'.repeat(98) + '"}'), { ok: true }, 'data of exactly --max-message bytes is accepted');
  t.match(await app.request(`{"op":"send","clients":${many(10_000)},"data":1}`), { ok: true }, '10,000 recipients are accepted');
  t.match(await app.request('{"op":"send","client":"' + 'x'.repeat(64) + '","data":1}'), { ok: true }, 'a 64-byte client id is accepted');
  t.match(await app.request('{"op":"send","client":"A-z_0:9","data":1,"extra":{"ignored":true}}'), { ok: true }, 'unknown keys are ignored');
});

t.test('the error catalogue names every code the protocol requires, with a meaning', async (t) => {
  for (const code of ['bad_json', 'bad_request', 'unknown_op', 'too_large', 'queue_full', 'unauthorized']) {
    const entry = (APP_ERRORS as Record<string, { when: string } | undefined>)[code];
    t.ok(entry !== undefined && entry.when.length > 10 && !entry.when.includes('\n'), `${code}: ${entry?.when}`);
  }
});

t.test('ref comes back verbatim, on success and error replies alike', async (t) => {
  const h = await startHarness({ maxQueue: 1 });
  t.teardown(() => h.close());
  const app = await h.connect();
  const refs = [
    '1',
    '"x"',
    'null',
    'true',
    'false',
    '[]',
    '{}',
    '{"a":[1,{"b":"c\\"}"}]}',
    '{ "spaced" : [ 1 , 2 ] }',
    '12345678901234567890',
    '1e400',
    '-0.0',
    '"\\u00e9 \u00e9 \\ud83d\\ude00 \ud83d\ude00 \u2028"',
    '"\\\\"',
  ];
  for (const ref of refs) {
    app.write(`{"op":"stats","ref":${ref}}\n`);
    const line = await app.line();
    t.ok(line.endsWith(`,"ref":${ref}}`), `stats echoes ${ascii(ref)}`);
    t.doesNotThrow(() => JSON.parse(line), 'and the reply is JSON');
  }
  const lines: Array<[string, string]> = [
    ['{"ref":[1,2],"op":"send","client":"r","data":"ref first"}', '{"ok":true,"id":'],
    ['{"op":"send","client":"r","data":1,"ref":"full"}', '{"ok":false,"error":"queue_full"'],
    ['{"op":"nope","ref":{"k":1}}', '{"ok":false,"error":"unknown_op"'],
    ['{"op":"status","ref":7}', '{"ok":false,"error":"bad_request"'],
    ['{"op":"status","client":"r","ref":"s"}', '{"ok":true,"connected":false,"queued":1'],
    ['{"op":"auth","secret":"","ref":0}', '{"ok":true'],
    ['{"op":"stats","ref":1,"ref":"last wins"}', '{"ok":true'],
    ['{"op":"stats","r\\u0065f":"escaped key"}', '{"ok":true'],
  ];
  for (const [line, start] of lines) {
    app.write(line + '\n');
    const reply = await app.line();
    const ref = JSON.stringify(JSON.parse(line).ref);
    t.ok(reply.startsWith(start), `${line}: ${start}`);
    t.ok(reply.endsWith(`"ref":${ref}}`), `${line}: echoes ${ref}`);
  }
  t.same(Object.keys(await app.request('{"op":"stats"}')).includes('ref'), false, 'no ref, no ref key');
});
