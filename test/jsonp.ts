// PROTOCOL.md section 1: JSONP framing.
import t from 'tap';
import { isValidCallback, wrapJsonp } from '../src/protocol/jsonp.js';

t.test('the body is /**/FN(json);', async (t) => {
  t.equal(wrapJsonp('cb', '{"cursor":0,"messages":[]}'), '/**/cb({"cursor":0,"messages":[]});');
});

t.test('U+2028 and U+2029 are escaped and the JSON still means the same', async (t) => {
  const json = JSON.stringify({ messages: ['a\u2028b\u2029c'] });
  const wrapped = wrapJsonp('f', json);
  t.notMatch(wrapped, /[\u2028\u2029]/);
  const inner = wrapped.slice('/**/f('.length, -2);
  t.same(JSON.parse(inner), { messages: ['a\u2028b\u2029c'] });
});

t.test('callback names follow ^[A-Za-z_$][A-Za-z0-9_$.]{0,63}$', async (t) => {
  for (const good of ['a', '_', '$', 'a.b.c', 'jQuery123_456', 'x'.repeat(64)]) t.ok(isValidCallback(good), good);
  for (const bad of ['', '1a', '.a', 'a-b', 'a b', 'alert(1)', 'x'.repeat(65), 'a\u00e9']) t.notOk(isValidCallback(bad), bad);
});
