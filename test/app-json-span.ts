// The scanner that finds the raw text of top-level members (data, ref) in a
// line JSON.parse has accepted: hand-picked traps, then random objects checked
// against JSON.parse itself.
import t from 'tap';
import { rawMembers } from '../src/manager/json-span.js';

const NAMES: ReadonlySet<string> = new Set(['data', 'ref']);

t.test('raw member text is sliced out as written', async (t) => {
  const cases: Array<[string, { data?: string; ref?: string }]> = [
    ['{}', {}],
    [' \t\r\n{ } ', {}],
    ['{"data":1}', { data: '1' }],
    ['{"data":12345678901234567890,"ref":1e400}', { data: '12345678901234567890', ref: '1e400' }],
    ['{ "data" :\t[ 1 , 2 ] , "ref" : { } }', { data: '[ 1 , 2 ]', ref: '{ }' }],
    ['{"a":"\\"data\\":1","data":"x"}', { data: '"x"' }],
    ['{"a":{"data":1,"ref":2},"b":[{"data":3}]}', {}],
    ['{"data":"\\\\","ref":"\\\\\\""}', { data: '"\\\\"', ref: '"\\\\\\""' }],
    ['{"data":1,"data":2}', { data: '2' }],
    ['{"d\\u0061ta":true,"\\u0072ef":false}', { data: 'true', ref: 'false' }],
    ['{"data\\u0000":1,"data":null}', { data: 'null' }],
    ['{"data":"}]{[,:\\"","x":1}', { data: '"}]{[,:\\""' }],
    ['{"data":-0.5e-10}', { data: '-0.5e-10' }],
    ['{"data":[],"ref":""}', { data: '[]', ref: '""' }],
    ['{"x":"\u00e9\ud83d\ude00","data":"\u2028"}', { data: '"\u2028"' }],
  ];
  for (const [text, want] of cases) {
    JSON.parse(text); // the scanner's precondition
    const found = rawMembers(text, NAMES);
    t.same(Object.fromEntries(found), want, text.replace(/[^\x20-\x7e]/g, '?'));
  }
});

t.test('on random objects the raw text parses to what JSON.parse gives', async (t) => {
  let seed = 12345;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const space = (): string => pick(['', '', ' ', '\t', '\n ', '\r\n']);
  const strings = ['', 'data', 'ref', '\\"', '\\\\', '\\\\\\"', 'a\\u0041', '}', ']', ',', ':', '{"data":1}', '\u00e9', '\ud83d\ude00'];
  const value = (depth: number): string => {
    const kind = depth > 3 ? Math.floor(random() * 4) : Math.floor(random() * 6);
    switch (kind) {
      case 0:
        return pick(['0', '-1', '1.5', '1e400', '12345678901234567890', '-0.0e+5']);
      case 1:
        return pick(['true', 'false', 'null']);
      case 2:
      case 3:
        return `"${pick(strings)}${pick(strings)}"`;
      case 4:
        return `[${space()}${Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1)).join(`${space()},${space()}`)}${space()}]`;
      default:
        return object(depth + 1);
    }
  };
  const key = (): string => pick(['"data"', '"ref"', '"d\\u0061ta"', '"op"', '"x"', '"data "', '"Data"', '"\\"data"']);
  const object = (depth: number): string =>
    `{${space()}${Array.from({ length: Math.floor(random() * 5) }, () => `${key()}${space()}:${space()}${value(depth)}`).join(`${space()},${space()}`)}${space()}}`;

  let checked = 0;
  let mismatches = 0;
  for (let i = 0; i < 3000; i++) {
    const text = space() + object(0) + space();
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      continue;
    }
    const found = rawMembers(text, NAMES);
    for (const name of NAMES) {
      const has = Object.hasOwn(parsed, name);
      const raw = found.get(name);
      checked++;
      if (has !== (raw !== undefined) || (raw !== undefined && JSON.stringify(JSON.parse(raw)) !== JSON.stringify(parsed[name]))) {
        mismatches++;
        if (mismatches <= 3) t.fail(`mismatch for ${name} in ${text}`);
      }
    }
  }
  t.ok(checked > 4000, `${checked} members checked`);
  t.equal(mismatches, 0, 'the scanner agrees with JSON.parse');
});
