// Subscriber tokens (PROTOCOL.md section 3), checked against HMAC-SHA256
// computed here independently with node:crypto.
import t from 'tap';
import { createHmac } from 'node:crypto';
import { signToken, verifyToken } from '../src/protocol/token.js';

const SECRET = 'correct horse battery staple';
const NOW = 1_700_000_000;

function reference(secret: string, text: string): string {
  // base64url by hand from standard base64, so the test does not share the code under test's encoding path.
  return createHmac('sha256', secret).update(text).digest('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

t.test('a token without expiry is the unpadded base64url HMAC of the client id', async (t) => {
  const token = signToken(SECRET, 'user:42');
  t.equal(token, reference(SECRET, 'user:42'));
  t.equal(token.length, 43);
  t.match(token, /^[A-Za-z0-9_-]{43}$/, 'base64url, no padding');
  t.equal(signToken('key', 'The quick brown fox jumps over the lazy dog'), '97yD9DBThCSxMpjmqm-xQ-9NWaFJRhdZl0edvC0aPNg', 'the well-known HMAC-SHA256 vector');
  t.ok(verifyToken(SECRET, 'user:42', token, NOW));
});

t.test('a token with expiry is EXP "." the HMAC of ID "." EXP', async (t) => {
  const exp = NOW + 60;
  const token = signToken(SECRET, 'user:42', exp);
  t.equal(token, `${exp}.${reference(SECRET, `user:42.${exp}`)}`);
  t.ok(verifyToken(SECRET, 'user:42', token, NOW), 'valid before EXP');
  t.ok(verifyToken(SECRET, 'user:42', token, exp - 1), 'valid one second before');
  t.notOk(verifyToken(SECRET, 'user:42', token, exp), 'refused from EXP on');
  t.notOk(verifyToken(SECRET, 'user:42', token, exp + 3600), 'and after');
});

t.test('tokens for another client, another secret or tampered are refused', async (t) => {
  const token = signToken(SECRET, 'alice');
  const timed = signToken(SECRET, 'alice', NOW + 60);
  const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
  const cases: Array<[string, string, string]> = [
    ['another client', 'bob', token],
    ['another secret', 'alice', signToken('other', 'alice')],
    ['a flipped first character', 'alice', flip(token, 0)],
    ['a flipped last character', 'alice', flip(token, 42)],
    ['one character short', 'alice', token.slice(0, 42)],
    ['one character long', 'alice', token + 'A'],
    ['padded', 'alice', token + '='],
    ['empty', 'alice', ''],
    ['standard base64 characters', 'alice', token.replace(/-/g, '+').replace(/_/g, '/') + (/[-_]/.test(token) ? '' : '+')],
    ['a non-ASCII character of the same UTF-16 length', 'alice', token.slice(0, 42) + '\u0141'],
    ['a later EXP with the old signature', 'alice', `${NOW + 9999}.${timed.split('.')[1]!}`],
    ['an EXP with a leading zero', 'alice', `0${timed}`],
    ['an EXP with a sign', 'alice', `+${timed}`],
    ['an empty EXP', 'alice', `.${timed.split('.')[1]!}`],
    ['the plain token behind an EXP', 'alice', `${NOW + 60}.${token}`],
    ['the timed signature without its EXP', 'alice', timed.split('.')[1]!],
    ['a second dot', 'alice', `${timed}.x`],
  ];
  for (const [why, client, bad] of cases) t.notOk(verifyToken(SECRET, client, bad, NOW), why);
});

t.test('signToken refuses an expiry that is not whole Unix seconds', async (t) => {
  for (const exp of [-1, 1.5, Number.NaN, 2 ** 53]) t.throws(() => signToken(SECRET, 'a', exp), RangeError, String(exp));
  t.equal(signToken(SECRET, 'a', 0).split('.')[0], '0', 'zero is a (long expired) time');
});
