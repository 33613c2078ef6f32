// The app port's line framer on its own: where lines end, and when a line is
// too large (as early as that is certain, never after buffering more).
import t from 'tap';
import { isBlank, LineFramer, NEED_MORE, TOO_LARGE } from '../src/manager/line-framer.js';

function drain(framer: LineFramer): Array<string | symbol> {
  const out: Array<string | symbol> = [];
  for (;;) {
    const line = framer.next();
    if (line === NEED_MORE) return out;
    out.push(line === TOO_LARGE ? line : line.toString('latin1'));
    if (line === TOO_LARGE) return out;
  }
}

t.test('lines end at \\n, and a \\r before it is part of the line end', async (t) => {
  const framer = new LineFramer(100);
  framer.push(Buffer.from('a\nb\r\n\n\r\nc\rd\n'));
  t.same(drain(framer), ['a', 'b', '', '', 'c\rd']);
  framer.push(Buffer.from('no end yet'));
  t.same(drain(framer), [], 'a partial line waits');
  framer.push(Buffer.from(''));
  framer.push(Buffer.from(' and'));
  framer.push(Buffer.from(' more\r'));
  t.same(drain(framer), []);
  framer.push(Buffer.from('\nnext\n'));
  t.same(drain(framer), ['no end yet and more', 'next'], 'pieces are joined');
});

t.test('lines can be taken one at a time, leaving the rest buffered', async (t) => {
  const framer = new LineFramer(100);
  framer.push(Buffer.from('1\n2\n3'));
  framer.push(Buffer.from('\n4\n'));
  const first = framer.next();
  t.equal(Buffer.isBuffer(first) && first.toString(), '1');
  t.same(drain(framer), ['2', '3', '4']);
});

t.test('the line limit excludes the line end and is enforced before the line ends', async (t) => {
  const limit = 5;
  const cases: Array<[string[], Array<string | symbol>]> = [
    [['12345\n'], ['12345']],
    [['12345\r\n'], ['12345']],
    [['12345\r', '\n'], ['12345']],
    [['12345', '\r', '\n'], ['12345']],
    [['123456\n'], [TOO_LARGE]],
    [['123456'], [TOO_LARGE]],
    [['12345', '6'], [TOO_LARGE]],
    [['12345\r', 'x'], [TOO_LARGE]],
    [['12345\rx\n'], [TOO_LARGE]],
    [['ok\n1234567'], ['ok', TOO_LARGE]],
  ];
  for (const [chunks, want] of cases) {
    const framer = new LineFramer(limit);
    const got: Array<string | symbol> = [];
    for (const chunk of chunks) {
      framer.push(Buffer.from(chunk));
      got.push(...drain(framer));
      if (got.includes(TOO_LARGE)) break;
    }
    t.same(got, want, JSON.stringify(chunks));
  }
});

t.test('blank lines are those of spaces, tabs and \\r only', async (t) => {
  for (const line of ['', ' ', '\t', '\r', ' \t\r ']) t.ok(isBlank(Buffer.from(line)), JSON.stringify(line));
  for (const line of ['x', ' {} ', '\u00a0', '\f', '\v']) t.notOk(isBlank(Buffer.from(line)), JSON.stringify(line));
});
