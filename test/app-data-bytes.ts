// The app's `data` reaches the subscriber byte for byte as it stood in the
// request line (PROTOCOL.md section 1: re-serialising is acceptable only if
// semantically identical, and JSON.parse + JSON.stringify is not for big
// numbers), and --max-message counts exactly those bytes.
import t from 'tap';
import { startHarness } from './helpers/app-harness.js';

t.test('data is delivered exactly as the app wrote it', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const app = await h.connect();
  const values = [
    '12345678901234567890',
    '1e400',
    '-0.0',
    '1.50',
    '0',
    'null',
    'true',
    '""',
    '"caf\u00e9 \ud83d\ude00 \\u00e9 \\ud83d\\ude00 \\n \\" \\\\"',
    '"\\\\"',
    '"ends with backslash \\\\"',
    '{ "a" : [ 1 , 2.50 , "x\\"y\\\\" ] ,\t"b":{} }',
    '[[[[[[[[[[[[[[[[[[[[{"deep":[[[[[[[[[[1]]]]]]]]]]}]]]]]]]]]]]]]]]]]]]]',
    '{"data":"nested data key","ref":"nested ref key","op":"not this one"}',
    '["}","]","{","[",",",":"]',
  ];
  for (const data of values) {
    h.manager.onPoll(1, 9, 'bytes', 0);
    app.write(`{"op":"send","client":"bytes","data":${data}}\n`);
    const reply = JSON.parse(await app.line()) as { id: number };
    const [delivery] = h.links.take();
    t.equal(delivery?.body, `{"cursor":${reply.id},"messages":[${data}]}`, `data ${ascii(data)}`);
    await app.request(`{"op":"status","client":"bytes"}`);
    h.manager.onPoll(1, 10, 'bytes', reply.id); // acknowledge, so the next poll sees only the next message
    h.manager.onGone(1, 10);
  }
});

t.test('the data member is found wherever it stands in the line', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const app = await h.connect();
  const lines: Array<[string, string]> = [
    ['{"data":[1, 2],"client":"w","op":"send"}', '[1, 2]'],
    ['  {  "op" : "send" , "client" : "w" , "data" :  {"k" : "v"}  }  ', '{"k" : "v"}'],
    ['{"op":"send","client":"w","data":1,"data":"last wins"}', '"last wins"'],
    ['{"op":"send","client":"w","d\\u0061ta":"escaped key"}', '"escaped key"'],
    ['{"op":"send","client":"w","ref":{"data":"not me"},"data":"me"}', '"me"'],
    ['{"op":"send","client":"w","\\"data":"not me","data":"me"}', '"me"'],
    ['{"op":"send","client":"w","data\\\\":"not me","data":"me"}', '"me"'],
  ];
  for (const [line, data] of lines) {
    h.manager.onPoll(0, 1, 'w', 0);
    app.write(line + '\n');
    const reply = JSON.parse(await app.line()) as { id: number };
    t.same(h.links.take(), [{ worker: 0, handle: 1, body: `{"cursor":${reply.id},"messages":[${data}]}` }], line);
    h.manager.onPoll(0, 2, 'w', reply.id);
    h.manager.onGone(0, 2);
  }
});

t.test('one multi-client send delivers the same bytes to every held poll', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const app = await h.connect();
  h.manager.onPoll(0, 1, 'm1', 0);
  h.manager.onPoll(1, 2, 'm2', 0);
  const reply = await app.request('{"op":"send","clients":["m1","m2"],"data":98765432109876543210}');
  const [a, b] = reply.ids as number[];
  t.same(h.links.take(), [
    { worker: 0, handle: 1, body: `{"cursor":${a},"messages":[98765432109876543210]}` },
    { worker: 1, handle: 2, body: `{"cursor":${b},"messages":[98765432109876543210]}` },
  ]);
});

t.test('--max-message counts the UTF-8 bytes of the data text as written', async (t) => {
  const h = await startHarness({ maxMessage: 10 });
  t.teardown(() => h.close());
  const app = await h.connect();
  const cases: Array<[string, boolean]> = [
    ['"12345678"', true], // 10 bytes
    ['"123456789"', false], // 11
    ['"\u00e9\u00e9\u00e9\u00e9"', true], // 2 quotes + 4 x 2 bytes
    ['"\u00e9\u00e9\u00e9\u00e9x"', false], // 11
    ['"\ud83d\ude00\ud83d\ude00"', true], // 2 + 2 x 4
    ['"\\u00e9\\u00e9"', false], // escapes count as written: 14 bytes although it decodes to 2 characters
    ['[1,  2,  3]', false], // whitespace counts: 11 bytes
    ['[1,2,3]', true],
  ];
  for (const [data, fits] of cases) {
    const reply = await app.request(`{"op":"send","client":"s","data":${data}}`);
    t.equal(reply.ok, fits, `${ascii(data)} (${Buffer.byteLength(data)} bytes) ${fits ? 'fits' : 'is too large'}`);
    if (!fits) t.equal(reply.error, 'too_large');
  }
});

/** Test names stay ASCII: some characters would break the TAP stream. */
function ascii(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
