// PROTOCOL.md section 1, the parameter table of GET /poll: client, since,
// callback, percent-decoding, repeated and unknown parameters. Valid polls are
// held until --poll-timeout, so every request is started at once and each
// subtest then checks its own answer: the file takes about one poll timeout.
import t from 'tap';
import { AppConnection } from './helpers/app-client.js';
import { expectJsonError, expectPollResponse, show } from './helpers/expect.js';
import { RawHttpConnection, type HttpResponse } from './helpers/http-client.js';
import { runJsonp } from './helpers/poll.js';
import { startServer } from './helpers/server.js';
import { awaitLater } from './helpers/wait.js';

const POLL_TIMEOUT_S = 1;
const server = await startServer(t, ['--threads', '2', '--poll-timeout', String(POLL_TIMEOUT_S)]);

type Expectation =
  | { status: 400; absent?: string[] }
  | { status: 200; cursor: number; callback?: string };

interface Case {
  area: string;
  name: string;
  /** The raw request-target, exactly as sent. */
  target: string;
  expect: Expectation;
}

const ok = (cursor = 0): Expectation => ({ status: 200, cursor });
const bad = (...absent: string[]): Expectation => ({ status: 400, absent });
const jsonp = (callback: string): Expectation => ({ status: 200, cursor: 0, callback });
/** Percent-encodes every byte, even unreserved ones. */
const encodeAll = (s: string): string => [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');

const CHARSET_64 = 'AZaz09_:-'.repeat(8).slice(0, 64);
const NAME_64 = `cb_$.${'x'.repeat(59)}`;

const cases: Case[] = [
  // client
  { area: 'client', name: 'missing (no query) is 400', target: '/poll', expect: bad() },
  { area: 'client', name: 'missing (empty query) is 400', target: '/poll?', expect: bad() },
  { area: 'client', name: 'missing (other parameters only) is 400', target: '/poll?since=0', expect: bad() },
  { area: 'client', name: 'empty value is 400', target: '/poll?client=', expect: bad() },
  { area: 'client', name: 'name without value is 400', target: '/poll?client', expect: bad() },
  { area: 'client', name: 'one character is ok', target: '/poll?client=q', expect: ok() },
  { area: 'client', name: '64 bytes of [A-Za-z0-9_:-] is ok', target: `/poll?client=${CHARSET_64}`, expect: ok() },
  { area: 'client', name: '65 bytes is 400', target: `/poll?client=${'c'.repeat(65)}`, expect: bad() },
  { area: 'client', name: 'a dot is 400', target: '/poll?client=a.b', expect: bad() },
  { area: 'client', name: 'a percent-encoded dot is 400', target: '/poll?client=a%2Eb', expect: bad() },
  { area: 'client', name: 'a percent-encoded space is 400', target: '/poll?client=a%20b', expect: bad() },
  { area: 'client', name: 'a plus sign is 400', target: '/poll?client=a+b', expect: bad() },
  { area: 'client', name: 'a slash is 400', target: '/poll?client=a/b', expect: bad() },
  { area: 'client', name: 'an encoded slash is 400', target: '/poll?client=a%2Fb', expect: bad() },
  { area: 'client', name: 'non-ASCII is 400', target: '/poll?client=%C3%A9t%C3%A9', expect: bad() },
  { area: 'client', name: 'an encoded NUL is 400', target: '/poll?client=a%00', expect: bad() },
  { area: 'client', name: 'percent-encoded allowed characters are decoded (ok)', target: '/poll?client=%41bc%2Dpd', expect: ok() },
  {
    area: 'client',
    name: 'the 64-byte limit applies to the decoded value (192 encoded bytes is ok)',
    target: `/poll?client=${encodeAll('E'.repeat(64))}`,
    expect: ok(),
  },
  { area: 'client', name: 'repeated with different values is 400', target: '/poll?client=rep-1&client=rep-2', expect: bad() },
  { area: 'client', name: 'repeated with the same value is 400', target: '/poll?client=rep-3&client=rep-3', expect: bad() },
  // since
  { area: 'since', name: '0 is ok and echoed', target: '/poll?client=since-0&since=0', expect: ok(0) },
  { area: 'since', name: 'empty means absent (cursor 0)', target: '/poll?client=since-empty&since=', expect: ok(0) },
  { area: 'since', name: 'a plain number is echoed', target: '/poll?client=since-7&since=7', expect: ok(7) },
  { area: 'since', name: 'parameter order does not matter', target: '/poll?since=5&client=since-order', expect: ok(5) },
  { area: 'since', name: '2^53-1 is ok and echoed exactly', target: '/poll?client=since-max&since=9007199254740991', expect: ok(9007199254740991) },
  { area: 'since', name: 'percent-encoded digits are decoded', target: '/poll?client=since-pct&since=%31%32', expect: ok(12) },
  { area: 'since', name: 'a leading zero (007) is 400', target: '/poll?client=since-007&since=007', expect: bad() },
  { area: 'since', name: '00 is 400', target: '/poll?client=since-00&since=00', expect: bad() },
  { area: 'since', name: 'a minus sign (-1) is 400', target: '/poll?client=since-neg&since=-1', expect: bad() },
  { area: 'since', name: 'a plus sign (+1) is 400', target: '/poll?client=since-plus&since=+1', expect: bad() },
  { area: 'since', name: 'an encoded plus sign (%2B1) is 400', target: '/poll?client=since-plus2&since=%2B1', expect: bad() },
  { area: 'since', name: 'an exponent (1e3) is 400', target: '/poll?client=since-exp&since=1e3', expect: bad() },
  { area: 'since', name: 'a fraction (1.0) is 400', target: '/poll?client=since-frac&since=1.0', expect: bad() },
  { area: 'since', name: 'hex (0x1F) is 400', target: '/poll?client=since-hex&since=0x1F', expect: bad() },
  { area: 'since', name: 'letters are 400', target: '/poll?client=since-abc&since=abc', expect: bad() },
  { area: 'since', name: 'a leading space is 400', target: '/poll?client=since-sp&since=%201', expect: bad() },
  { area: 'since', name: '2^53 is 400', target: '/poll?client=since-2p53&since=9007199254740992', expect: bad() },
  { area: 'since', name: '2^64 is 400', target: '/poll?client=since-2p64&since=18446744073709551616', expect: bad() },
  { area: 'since', name: 'a huge number is 400', target: `/poll?client=since-huge&since=${'9'.repeat(40)}`, expect: bad() },
  { area: 'since', name: 'repeated is 400', target: '/poll?client=since-rep&since=1&since=1', expect: bad() },
  // callback
  { area: 'callback', name: 'a plain name is ok (JSONP)', target: '/poll?client=cb-plain&callback=cb', expect: jsonp('cb') },
  { area: 'callback', name: '$ alone is ok', target: '/poll?client=cb-dollar&callback=$', expect: jsonp('$') },
  { area: 'callback', name: 'an encoded $ is ok', target: '/poll?client=cb-dollar2&callback=%24', expect: jsonp('$') },
  { area: 'callback', name: '_ alone is ok', target: '/poll?client=cb-under&callback=_', expect: jsonp('_') },
  { area: 'callback', name: 'dotted names are ok', target: '/poll?client=cb-dots&callback=a.b.c', expect: jsonp('a.b.c') },
  { area: 'callback', name: '$ and digits after the first character are ok', target: '/poll?client=cb-mixed&callback=$a.$b_1', expect: jsonp('$a.$b_1') },
  {
    area: 'callback',
    name: "jQuery's name and cache-buster are ok",
    target: '/poll?client=cb-jquery&callback=jQuery3710_1700000000000&_=1700000000001',
    expect: jsonp('jQuery3710_1700000000000'),
  },
  { area: 'callback', name: '64 characters is ok', target: `/poll?client=cb-64&callback=${NAME_64}`, expect: jsonp(NAME_64) },
  { area: 'callback', name: '65 characters is 400', target: `/poll?client=cb-65&callback=cbLong${'y'.repeat(59)}`, expect: bad(`cbLong${'y'.repeat(59)}`) },
  { area: 'callback', name: 'empty is 400', target: '/poll?client=cb-empty&callback=', expect: bad() },
  { area: 'callback', name: 'a leading digit is 400', target: '/poll?client=cb-digit&callback=9badStart', expect: bad('9badStart') },
  { area: 'callback', name: 'a leading dot is 400', target: '/poll?client=cb-dot&callback=.dotStart', expect: bad('dotStart') },
  { area: 'callback', name: 'a hyphen is 400', target: '/poll?client=cb-hyphen&callback=bad-hyphenName', expect: bad('hyphenName') },
  { area: 'callback', name: 'a script is 400', target: '/poll?client=cb-xss&callback=alert(document.cookie)', expect: bad('alert', 'document.cookie') },
  { area: 'callback', name: 'an encoded script is 400', target: '/poll?client=cb-xss2&callback=evilFn%28%29%3B%2F%2F', expect: bad('evilFn') },
  { area: 'callback', name: 'an encoded newline is 400', target: '/poll?client=cb-nl&callback=newlineCb%0Aalert', expect: bad('newlineCb') },
  { area: 'callback', name: 'non-ASCII is 400', target: '/poll?client=cb-utf8&callback=caf%C3%A9Cb', expect: bad('caf\u00e9Cb', 'caf%C3%A9Cb') },
  { area: 'callback', name: 'repeated is 400', target: '/poll?client=cb-rep&callback=firstCb&callback=secondCb', expect: bad('firstCb', 'secondCb') },
  // percent-decoding
  { area: 'percent-decoding', name: '%zz in client is 400', target: '/poll?client=a%zz', expect: bad() },
  { area: 'percent-decoding', name: 'a trailing % in client is 400', target: '/poll?client=a%', expect: bad() },
  { area: 'percent-decoding', name: 'a truncated %2 in client is 400', target: '/poll?client=a%2', expect: bad() },
  { area: 'percent-decoding', name: 'a bad escape in since is 400', target: '/poll?client=pct-since&since=%3', expect: bad() },
  { area: 'percent-decoding', name: 'a bad escape in callback is 400', target: '/poll?client=pct-cb&callback=cb%zz', expect: bad() },
  // unknown parameters
  { area: 'unknown parameters', name: "jQuery's _=123 is ignored", target: '/poll?client=unk-1&_=123', expect: ok() },
  { area: 'unknown parameters', name: 'a repeated unknown parameter is ignored', target: '/poll?client=unk-2&foo=bar&foo=baz', expect: ok() },
  { area: 'unknown parameters', name: 'an unknown name without value is ignored', target: '/poll?client=unk-3&flag', expect: ok() },
  { area: 'unknown parameters', name: 'token is ignored when the server has no --secret', target: '/poll?client=unk-4&token=anything', expect: ok() },
];

// Send everything at once; each answer is awaited by its own subtest below.
const answers = new Map<Case, Promise<{ res: HttpResponse }>>();
for (const c of cases) {
  answers.set(
    c,
    awaitLater(
      RawHttpConnection.open(server.httpPort, t).then(async (conn) => {
        const res = await conn.get(c.target, {}, { timeoutMs: 15_000 });
        conn.destroy();
        return { res };
      }),
    ),
  );
}

for (const c of cases) {
  t.test(`§1 ${c.area}: ${c.name}`, async (t) => {
    const { res } = await (answers.get(c) as Promise<{ res: HttpResponse }>);
    t.comment(`GET ${c.target} -> ${res.status} ${show(res.text)}`);
    const expect = c.expect;
    if (expect.status === 400) {
      expectJsonError(t, res, 400);
      const raw = res.raw.toString('latin1');
      for (const word of expect.absent ?? []) t.notOk(raw.includes(word), `the response does not contain ${JSON.stringify(word)}`);
      return;
    }
    if (expect.callback === undefined) {
      const body = expectPollResponse(t, res);
      t.equal(body.cursor, expect.cursor, 'cursor echoes since');
      t.same(body.messages, []);
      return;
    }
    t.equal(res.status, 200);
    t.equal(res.headers['content-type'], 'application/javascript; charset=utf-8');
    const value = runJsonp(res.text, expect.callback);
    t.same(value, { cursor: expect.cursor, messages: [] }, `JSONP calls ${expect.callback} with the empty poll answer`);
  });
}

t.test('§1 percent-decoding: a percent-encoded client id names the same client', async (t) => {
  const app = await AppConnection.open(server.appPort, t);
  const id = await app.sendTo('A:b-decoded', 'for A:b');
  const conn = await RawHttpConnection.open(server.httpPort, t);
  const body = expectPollResponse(t, await conn.get('/poll?client=%41%3Ab%2Ddecoded'));
  t.equal(body.cursor, id);
  t.same(body.messages, ['for A:b']);
});
