// The fast path for the common send line must answer exactly what the full
// path (JSON.parse, then the raw-member scan) answers, and hand everything it
// is not sure of to the full path: hand-picked traps, then random lines.
import t, { type Test } from 'tap';
import { parseAnyLine, parseAppLine, parseCommonSend, type ParseOptions } from '../src/manager/app-request.js';

const OPTIONS: ParseOptions = { maxMessage: 64, authorized: true };

function agree(t: Test, line: string, name: string = line): void {
  t.same(parseAppLine(line, OPTIONS), parseAnyLine(line, OPTIONS), name.replace(/[^\x20-\x7e]/g, '?'));
}

t.test('the common send line takes the fast path', async (t) => {
  for (const line of [
    '{"op":"send","client":"c17","data":{"t":123,"s":4}}',
    '{"op":"send","client":"A-z_0:9","data":"x"}',
    '{"op":"send","client":"u","data": [1, 2] }  ',
    '{"op":"send","client":"u","data":12345678901234567890}\r',
    `{"op":"send","client":"${'a'.repeat(64)}","data":null}`,
  ]) {
    const fast = parseCommonSend(line, OPTIONS.maxMessage);
    t.not(fast, null, `taken: ${line}`);
    t.same(fast, parseAnyLine(line, OPTIONS), `same answer: ${line}`);
  }
  t.same(parseCommonSend('{"op":"send","client":"u","data": [1, 2] } ', 64), {
    ok: true,
    request: { op: 'send', client: 'u', data: '[1, 2]' },
    ref: undefined,
  }, 'data is the value as written, without the whitespace around it');
});

t.test('lines the fast path must not judge alone get the full answer', async (t) => {
  const lines = [
    '{"op":"send","client":"u","data":1,"ref":7}',
    '{"op":"send","client":"u","data":1,"data":2}',
    '{"op":"send","client":"u","data":1,"client":"v"}',
    '{"op":"send","client":"u","data":{"a":1},"x":{"b":2}}',
    '{"op":"send","client":"u","data":1}}',
    '{"op":"send","client":"u","data":1',
    '{"op":"send","client":"u","data":}',
    '{"op":"send","client":"u","data":  }',
    '{"op":"send","client":"u","data":[1,]}',
    '{"op":"send","client":"u","data":"\\u00"}',
    '{"op":"send","client":"u","data":"a\nb"}',
    '{"op":"send","client":"","data":1}',
    `{"op":"send","client":"${'a'.repeat(65)}","data":1}`,
    '{"op":"send","client":"a.b","data":1}',
    '{"op":"send","client":"a\\u0041","data":1}',
    '{"op":"send","client":"u","data":"' + 'x'.repeat(70) + '"}',
    '{"op":"send","client":"u","data":"' + '\u00e9'.repeat(40) + '"}',
    '{"op":"send","client":"u","data":"' + '\u00e9'.repeat(20) + '"}',
    ' {"op":"send","client":"u","data":1}',
    '\ufeff{"op":"send","client":"u","data":1}',
    '{"op":"send","client":"u","data":1}\u00a0',
    '{"op":"send","client":"u","data":1} x',
    '{"op":"send","client":"u","data":1}\f',
    '{"op":"send","client":"u","data":1,}',
    '{"op":"send","client":"u","data":01}',
    '{"op":"send","client":"u","data":"\ud800"}',
  ];
  for (const line of lines) agree(t, line);
  t.equal(parseAppLine('{"op":"send","client":"u","data":1,"ref":7}', OPTIONS).ref, '7', 'ref still comes back');
  t.match(parseAppLine('{"op":"send","client":"u","data":1}', { maxMessage: 64, authorized: false }), {
    ok: false,
    error: { code: 'unauthorized' },
  }, 'an unauthorized connection is still refused');
});

t.test('on random send-like lines both paths agree', async (t) => {
  let seed = 4242;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const pieces = ['{', '}', '[', ']', ',', ':', '"', '\\', ' ', '1', 'e', '-', '"a"', 'null', '\u2028', '\r', '\t', '"data":', '"ref":', 'x'];
  const values = ['1', '"s"', '{"t":1}', '[1,2]', 'true', '  null  ', '12345678901234567890', '{}'];
  let fast = 0;
  for (let n = 0; n < 5000; n++) {
    const client = pick(['u', 'c17', 'a:b', 'a b', '', 'x'.repeat(64), 'x'.repeat(65)]);
    let value = pick(values);
    // Damage some lines anywhere, and some only after the prefix.
    if (random() < 0.6) {
      const at = Math.floor(random() * (value.length + 1));
      value = value.slice(0, at) + pick(pieces) + value.slice(at + (random() < 0.5 ? 1 : 0));
    }
    const tail = pick(['}', '} ', '}\r', ',"ref":1}', '}}', '', ' }']);
    const line = `{"op":"send","client":"${client}","data":${value}${tail}`;
    if (parseCommonSend(line, OPTIONS.maxMessage) !== null) fast++;
    agree(t, line, `line ${n}: ${line}`);
  }
  t.ok(fast > 500, `${fast} of the lines took the fast path`);
});
