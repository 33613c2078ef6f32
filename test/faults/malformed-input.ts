// Fault probe: hostile input on both ports, while 50 steady pollers (native
// load generator, fed 100 messages/s) and a held bystander poll watch.
//
// HTTP (PROTOCOL.md section 1, "Other requests and limits"): a table of
// request-smuggling attempts (Content-Length with Transfer-Encoding, two
// Content-Lengths, bodies hiding a second request), bare LF and CR, NUL, CR/LF
// in the query, absolute-form and other target forms, `GET health`, the
// 8192-byte head edge, bad percent-encoding and XSS-looking JSONP callbacks.
// Each gets its documented status; malformed HTTP (400) and an oversized head
// (431) are closed as documented, and so are 413 and 501, whose bodies the
// server does not read (closing is what keeps a hidden request from being
// parsed: no second response may follow, and no smuggled poll is held).
//
// App port (section 2): bad JSON, 100,000 `[`, 100,000-deep valid nesting,
// deep data that is delivered byte for byte, invalid UTF-8, a 10 MB line
// (too_large, then close) and a client that pipelines 160 MB of requests and
// never reads its replies (the server stops reading it, its memory stays
// bounded, other app clients are served meanwhile, and every reply arrives in
// order once the client reads).
//
// Throughout, the server stays up and other clients are unaffected: the
// bystander's held poll is answered by a message at the end, and the steady
// pollers lose nothing.
import { connect } from 'node:net';
import t, { type Test } from 'tap';
import { AppConnection } from '../helpers/app-client.js';
import { expectJsonError, expectPollResponse, show } from '../helpers/expect.js';
import { RawHttpConnection, requestBytes, type HttpResponse } from '../helpers/http-client.js';
import { num, sourceFlags, startLoadgen } from '../helpers/loadgen.js';
import { mb, MB, median, rssBytes } from '../helpers/process-memory.js';
import { PLAIN_NODE, startServer } from '../helpers/server.js';
import { sleep, waitFor, withTimeout } from '../helpers/wait.js';

const STEADY = 50;
const RATE = 100;

const server = await startServer(t, ['--threads', '2', '--poll-timeout', '120'], PLAIN_NODE);
const port = server.httpPort;
const app = await AppConnection.open(server.appPort, t);
const pollers = startLoadgen(t, 'poll', ['--port', String(port), '--clients', String(STEADY), '--prefix', 'steady', ...sourceFlags(2), '--max-seconds', '240'], 'steady pollers');
await pollers.waitProgress(`${STEADY} steady polls held`, (p) => p.held === STEADY);
const sender = startLoadgen(t, 'send', ['--app-port', String(server.appPort), '--clients', String(STEADY), '--prefix', 'steady',
  '--rate', String(RATE), '--duration', '180', '--max-seconds', '240'], 'sender');
await pollers.waitProgress('the first messages', (p) => p.received > 0);
const bystander = await RawHttpConnection.open(port, t);
bystander.write(requestBytes('GET', '/poll?client=bystander'));
await waitFor('the bystander poll to be held', async () => (await app.status('bystander')).connected);

/** A head of exactly `size` bytes: GET /health padded with one X-Pad header. */
function headOfSize(size: number): string {
  const bare = requestBytes('GET', '/health', { 'X-Pad': '' });
  return requestBytes('GET', '/health', { 'X-Pad': 'a'.repeat(size - bare.length) });
}

const H = 'Host: 127.0.0.1\r\n';
const smuggled = (name: string): string => `GET /poll?client=${name} HTTP/1.1\r\n${H}\r\n`;

interface HttpCase {
  name: string;
  bytes: string | Buffer;
  status: number;
  /** 'close': the server closes after the answer and nothing follows it; 'open': the next request on the connection is served. */
  after?: 'close' | 'open';
  /** The response must not contain this text (an echoed attack). */
  notEchoed?: string;
  check?: (t: Test, res: HttpResponse) => void;
}

const CASES: HttpCase[] = [
  // Request smuggling: a front end and this server must never disagree on where a request ends.
  { name: 'Content-Length and Transfer-Encoding', status: 501, after: 'close',
    bytes: `POST /poll?client=a HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled('smuggled-1')}` },
  { name: 'Transfer-Encoding and Content-Length', status: 501, after: 'close',
    bytes: `POST /poll?client=a HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 60\r\n\r\n0\r\n\r\n${smuggled('smuggled-2')}` },
  { name: 'Transfer-Encoding: chunked hiding a request', status: 501, after: 'close',
    bytes: `GET /health HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled('smuggled-3')}` },
  { name: 'Transfer-Encoding: identity', status: 501, after: 'close', bytes: `GET /health HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\n\r\n` },
  { name: 'Transfer-Encoding with a space before the colon', status: 400, after: 'close',
    bytes: `GET /health HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n${smuggled('smuggled-4')}` },
  { name: 'two different Content-Lengths', status: 400, after: 'close',
    bytes: `GET /health HTTP/1.1\r\n${H}Content-Length: 0\r\nContent-Length: 40\r\n\r\n${smuggled('smuggled-5')}` },
  { name: 'a Content-Length list', status: 400, after: 'close', bytes: `GET /health HTTP/1.1\r\n${H}Content-Length: 0, 40\r\n\r\n${smuggled('smuggled-6')}` },
  { name: 'a signed Content-Length', status: 400, after: 'close', bytes: `GET /health HTTP/1.1\r\n${H}Content-Length: +40\r\n\r\n${smuggled('smuggled-7')}` },
  { name: 'a Content-Length past 2^64', status: 400, after: 'close', bytes: `GET /health HTTP/1.1\r\n${H}Content-Length: 18446744073709551616\r\n\r\n` },
  { name: 'a body over 64 KiB', status: 413, after: 'close', bytes: `POST /health HTTP/1.1\r\n${H}Content-Length: 65537\r\n\r\n${smuggled('smuggled-8')}` },
  { name: 'a body hiding a request is skipped, not parsed', status: 200,
    bytes: `GET /health HTTP/1.1\r\n${H}Content-Length: ${smuggled('smuggled-9').length}\r\n\r\n${smuggled('smuggled-9')}`,
    check: (t, res) => t.equal(res.text, 'ok') },
  // Line ends.
  { name: 'bare LF line ends', status: 400, after: 'close', bytes: 'GET /health HTTP/1.1\nHost: 127.0.0.1\n\n' },
  { name: 'a bare LF inside the head', status: 400, after: 'close', bytes: `GET /health HTTP/1.1\r\nHost: 127.0.0.1\nX-A: b\r\n\r\n` },
  { name: 'a bare LF before the request line', status: 400, after: 'close', bytes: `\nGET /health HTTP/1.1\r\n${H}\r\n` },
  { name: 'a bare CR', status: 400, after: 'close', bytes: `GET /health HTTP/1.1\rHost: 127.0.0.1\r\n\r\n` },
  { name: 'obsolete line folding', status: 400, after: 'close', bytes: `GET /health HTTP/1.1\r\n${H}X-A: a\r\n b\r\n\r\n` },
  // NUL and control bytes.
  { name: 'NUL in the target', status: 400, after: 'close', bytes: Buffer.from(`GET /poll?client=a\0b HTTP/1.1\r\n${H}\r\n`, 'latin1') },
  { name: 'NUL in a header value', status: 400, after: 'close', bytes: Buffer.from(`GET /health HTTP/1.1\r\n${H}X-A: a\0b\r\n\r\n`, 'latin1') },
  { name: 'NUL in a header name', status: 400, after: 'close', bytes: Buffer.from(`GET /health HTTP/1.1\r\n${H}X-\0A: b\r\n\r\n`, 'latin1') },
  { name: 'a header name with a space', status: 400, after: 'close', bytes: `GET /health HTTP/1.1\r\n${H}X A: b\r\n\r\n` },
  // CR/LF in the query.
  { name: 'raw CR LF in the query (header injection)', status: 400, after: 'close', bytes: `GET /poll?client=a\r\nX-Injected: 1 HTTP/1.1\r\n${H}\r\n` },
  { name: 'a raw space in the query', status: 400, after: 'close', bytes: `GET /poll?client=a b HTTP/1.1\r\n${H}\r\n` },
  { name: 'percent-encoded CR LF in client', status: 400, notEchoed: 'Set-Cookie', bytes: requestBytes('GET', '/poll?client=a%0D%0ASet-Cookie:%20x=1') },
  { name: 'percent-encoded CR LF in callback', status: 400, notEchoed: 'Set-Cookie', bytes: requestBytes('GET', '/poll?client=a&callback=cb%0D%0ASet-Cookie:%20x=1') },
  // Target forms.
  { name: 'absolute-form is routed as origin-form', status: 200, after: 'open', bytes: requestBytes('GET', 'http://evil.example/health'), check: (t, res) => t.equal(res.text, 'ok') },
  { name: 'absolute-form, HTTPS in capitals, with a port', status: 200, after: 'open', bytes: requestBytes('GET', 'HTTPS://evil.example:8443/health'), check: (t, res) => t.equal(res.text, 'ok') },
  { name: 'absolute-form with an empty path is /', status: 404, after: 'open', bytes: requestBytes('GET', 'http://evil.example') },
  { name: 'absolute-form with an empty authority', status: 400, after: 'close', bytes: requestBytes('GET', 'http:///health') },
  { name: 'another scheme', status: 400, after: 'close', bytes: requestBytes('GET', 'ftp://evil.example/health') },
  { name: 'authority-form (CONNECT)', status: 400, after: 'close', bytes: requestBytes('CONNECT', '127.0.0.1:443') },
  { name: 'GET *', status: 400, after: 'close', bytes: requestBytes('GET', '*') },
  { name: 'OPTIONS * is a valid target with no such path', status: 404, after: 'open', bytes: requestBytes('OPTIONS', '*') },
  { name: 'GET health (no slash)', status: 400, after: 'close', bytes: requestBytes('GET', 'health') },
  { name: 'GET health then a valid request in the same write', status: 400, after: 'close', bytes: requestBytes('GET', 'health') + requestBytes('GET', '/health') },
  { name: 'a lower-case method is another method', status: 405, after: 'open', bytes: requestBytes('get', '/health') },
  { name: 'HTTP/0.9', status: 400, after: 'close', bytes: 'GET /health\r\n\r\n' },
  { name: 'the HTTP/2 preface', status: 400, after: 'close', bytes: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' },
  // The 431 edge.
  { name: 'a head of exactly 8192 bytes', status: 200, after: 'open', bytes: headOfSize(8192) },
  { name: 'a head of 8193 bytes', status: 431, after: 'close', bytes: headOfSize(8193) },
  { name: 'a request line of 8193 bytes', status: 431, after: 'close', bytes: `GET /poll?client=a&x=${'x'.repeat(8193)} HTTP/1.1\r\n${H}\r\n` },
  { name: 'a head that never ends', status: 431, after: 'close', bytes: `GET /health HTTP/1.1\r\n${H}X-Pad: ${'b'.repeat(9000)}` },
  // Bad percent-encoding.
  { name: '%zz', status: 400, bytes: requestBytes('GET', '/poll?client=%zz') },
  { name: 'a trailing %', status: 400, bytes: requestBytes('GET', '/poll?client=a%') },
  { name: 'a truncated escape', status: 400, bytes: requestBytes('GET', '/poll?client=a%4') },
  { name: 'an escape that is not UTF-8', status: 400, bytes: requestBytes('GET', '/poll?client=%C3%28') },
  { name: 'bad encoding in a parameter name', status: 400, bytes: requestBytes('GET', '/poll?client=a&%zz=1') },
  // XSS-looking JSONP callbacks: a plain JSON 400, the name never echoed.
  ...[
    'alert(1)', '<script>alert(1)</script>', 'a;alert(1)//', 'a\nalert(1)', 'a\u2028b', 'x\'+alert(1)+\'', 'a"b', 'a b',
    'constructor[\'constructor\'](\'alert(1)\')()', '1abc', `a${'b'.repeat(64)}`, '',
  ].map((cb): HttpCase => ({
    name: `callback ${show(JSON.stringify(cb))}`, status: 400, notEchoed: cb.length > 1 ? cb : undefined,
    bytes: requestBytes('GET', `/poll?client=xss&callback=${encodeURIComponent(cb)}`),
    check: (t, res) => t.match(res.headers['content-type'] ?? '', /^application\/json/, 'served as JSON, not script'),
  })),
  { name: 'a valid callback with a hostile client is answered as JSONP, the client not echoed', status: 200, notEchoed: '<script',
    bytes: requestBytes('GET', `/poll?client=${encodeURIComponent('<script>alert(1)</script>')}&callback=cb`),
    check: (t, res) => t.match(res.text, /^\/\*\*\/cb\(\{"error":"bad_request","message":"[^<]*","status":400\}\);$/, `the error wrapped for the callback: ${show(res.text)}`) },
];

t.test('HTTP: hostile requests get their documented answers', async (t) => {
  for (const c of CASES) {
    await t.test(c.name, async (t) => {
      const conn = await RawHttpConnection.open(port, t);
      conn.write(c.bytes);
      const res = await conn.readResponse();
      if (c.status === 200) t.equal(res.status, 200, `200 (got ${res.status} ${show(res.text)})`);
      else expectJsonError(t, res, c.status);
      if (c.notEchoed !== undefined) t.notOk(res.raw.toString('latin1').includes(c.notEchoed), `the response does not echo ${show(c.notEchoed, 40)}`);
      c.check?.(t, res);
      if (c.after === 'close') {
        t.ok(await conn.waitClosed(), 'the server closes the connection');
        t.equal(conn.pending.length, 0, `nothing follows the answer (got ${show(conn.pending.toString('latin1'), 100)})`);
      } else if (c.after === 'open') {
        const next = await conn.get('/health');
        t.same([next.status, next.text], [200, 'ok'], 'the next request on the connection is served');
      }
    });
  }
  // Steady pollers re-poll after each message, so fewer may be held at a given moment, never more.
  const stats = await app.stats();
  t.ok(stats.held_polls <= STEADY + 1, `no smuggled poll is held: at most the ${STEADY} steady polls and the bystander's (${stats.held_polls})`);
  for (let i = 1; i <= 9; i++) {
    const status = await app.status(`smuggled-${i}`);
    if (status.connected) t.fail(`smuggled-${i} was held`);
  }
});

t.test('app port: garbage lines get their error codes and the connection goes on', async (t) => {
  const garbage = await AppConnection.open(server.appPort, t);
  const ask = async (line: string | Buffer): Promise<Record<string, unknown>> => {
    garbage.writeRaw(line);
    garbage.writeRaw('\n');
    return (await garbage.readReply(30_000)) as Record<string, unknown>;
  };
  t.match(await ask('{"op":"send",'), { ok: false, error: 'bad_json' }, 'a cut-off object: bad_json');
  t.match(await ask('['.repeat(100_000)), { ok: false, error: 'bad_json' }, '100,000 [: bad_json');
  t.match(await ask('{'.repeat(100_000)), { ok: false, error: 'bad_json' }, '100,000 {: bad_json');
  t.match(await ask('['.repeat(100_000) + ']'.repeat(100_000)), { ok: false, error: 'bad_request' }, '100,000-deep valid nesting, not an object: bad_request');
  t.match(await ask(`{"op":"send","client":"deep","data":${'['.repeat(100_000)}${']'.repeat(100_000)}}`), { ok: false, error: 'too_large' },
    'deep data over --max-message: too_large');
  t.match(await ask(Buffer.concat([Buffer.from('{"op":"send","client":"u","data":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')])),
    { ok: false, error: 'bad_json' }, 'invalid UTF-8: bad_json');
  t.match(await ask(Buffer.from('{"op":"stats"}\0', 'latin1')), { ok: false, error: 'bad_json' }, 'a NUL after the object: bad_json');
  t.match(await ask('{"op":"send","client":"../../etc/passwd","data":1}'), { ok: false, error: 'bad_request' }, 'a path as client id: bad_request');
  t.match(await ask('{"__proto__":{"op":"stats"}}'), { ok: false, error: 'bad_request' }, 'op hidden in __proto__: bad_request');
  t.match(await ask('{"op":"__proto__"}'), { ok: false, error: 'unknown_op' }, 'op __proto__: unknown_op');
  t.match(await ask(`{"op":"send","clients":[${Array.from({ length: 10_001 }, (_, i) => `"m${i}"`).join(',')}],"data":1}`), { ok: false, error: 'bad_request' },
    '10,001 recipients: bad_request');
  t.match(await ask('{"op":"send","clients":["d","d"],"data":1}'), { ok: false, error: 'bad_request' }, 'a repeated recipient: bad_request');

  // Deep and odd data that is valid is delivered byte for byte, never re-serialised.
  const deepData = `${'['.repeat(30_000)}${']'.repeat(30_000)}`;
  const oddData = `{"a":${'{"a":'.repeat(5_000)}1e999999${'}'.repeat(5_000)},"\\ud800":"\\u0000"}`;
  const deep = await ask(`{"op":"send","client":"deep","data":${deepData}}`);
  const odd = await ask(`{"op":"send","client":"deep","data":${oddData},"ref":[[[["r"]]]]}`);
  t.match(deep, { ok: true }, '30,000-deep data within --max-message is accepted');
  t.match(odd, { ok: true, ref: [[[['r']]]] }, 'so is 5,000-deep data with 1e999999 and a lone surrogate escape, and its ref is echoed');
  const conn = await RawHttpConnection.open(port, t);
  const res = await conn.get('/poll?client=deep');
  expectPollResponse(t, res);
  t.equal(res.text, `{"cursor":${odd.id},"messages":[${deepData},${oddData}]}`, 'both are delivered exactly as sent');
  t.match(await ask('{"op":"stats"}'), { ok: true }, 'after all that the connection still answers');
});

t.test('app port: a 10 MB line is refused with too_large and the connection closed', async (t) => {
  const big = await AppConnection.open(server.appPort, t);
  const reply = big.readReply(30_000);
  big.socket.write(`{"op":"send","client":"big","data":"${'z'.repeat(10 * MB)}"}\n`);
  t.match(await reply, { ok: false, error: 'too_large' });
  t.ok(await big.waitClosed(20_000), 'and the connection is closed');
  t.equal((await app.status('big')).queued, 0, 'nothing was queued');
});

t.test('app port: a client that never reads its replies costs bounded memory and delays no one else', async (t) => {
  // 10,000 stats requests of 16 KB each (a 16 KB ref, echoed in each reply): 160 MB of
  // requests whose replies, were they all buffered, would cost the server over 160 MB.
  const LINES = 10_000;
  const pad = 'p'.repeat(16_000);
  const chunks: Buffer[] = [];
  let batch = '';
  for (let i = 0; i < LINES; i++) {
    batch += `{"op":"stats","ref":["${i}","${pad}"]}\n`;
    if (batch.length >= 256 * 1024 || i === LINES - 1) {
      chunks.push(Buffer.from(batch));
      batch = '';
    }
  }
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const unboundedCost = LINES * pad.length;
  const BOUND = 64 * MB;
  t.ok(unboundedCost >= 2 * BOUND, `buffering every reply would cost ${mb(unboundedCost)} MB, twice the bound of ${mb(BOUND)} MB`);

  const readings: number[] = [];
  for (let i = 0; i < 5; i++) {
    readings.push(rssBytes(server.pid));
    await sleep(100);
  }
  const before = median(readings);

  const hog = connect({ port: server.appPort, host: '127.0.0.1' });
  t.teardown(() => hog.destroy());
  await new Promise<void>((resolve, reject) => {
    hog.once('connect', resolve);
    hog.once('error', reject);
  });
  hog.pause(); // never read (until the end)
  hog.on('error', () => undefined);
  for (const c of chunks) hog.write(c);

  // Watch how much the kernel took and the server's RSS until the writes stop moving for 2 s.
  let peak = before;
  let handed = 0;
  let lastMove = Date.now();
  const started = Date.now();
  while (Date.now() - lastMove < 2000 && Date.now() - started < 60_000) {
    await sleep(100);
    peak = Math.max(peak, rssBytes(server.pid));
    const now = total - hog.writableLength;
    if (now !== handed) {
      handed = now;
      lastMove = Date.now();
    }
    if (handed === total) break;
  }
  t.ok(handed < total, `the server stopped reading the client: the kernel took ${mb(handed)} of ${mb(total)} MB`);
  t.ok(peak - before < BOUND, `server RSS grew ${mb(peak - before)} MB (from ${mb(before)} to ${mb(peak)} MB), under ${mb(BOUND)} MB`);

  // Meanwhile everyone else is served.
  const other = await AppConnection.open(server.appPort, t);
  t.match(await other.request({ op: 'stats' }), { ok: true }, 'another app connection gets stats');
  const conn = await RawHttpConnection.open(port, t);
  conn.write(requestBytes('GET', '/poll?client=during-hog'));
  await waitFor('the poll to be held', async () => (await other.status('during-hog')).connected);
  const id = await other.sendTo('during-hog', 'still here');
  const body = expectPollResponse(t, await conn.readResponse());
  t.same([body.cursor, body.messages], [id, ['still here']], 'and a send reaches a poller');

  // The client reads at last: every reply comes, in order.
  let text = '';
  let count = 0;
  let wrong = 0;
  const done = new Promise<void>((resolve) => {
    hog.setEncoding('utf8');
    hog.on('data', (chunk: string) => {
      text += chunk;
      let nl: number;
      while ((nl = text.indexOf('\n')) >= 0) {
        const line = text.slice(0, nl);
        text = text.slice(nl + 1);
        const reply = JSON.parse(line) as { ok?: boolean; ref?: [string, string] };
        if ((reply.ok !== true || reply.ref?.[0] !== String(count) || reply.ref[1] !== pad) && wrong++ < 3) {
          t.fail(`reply ${count} is not the stats reply with ref ${count}: ${show(line, 200)}`);
        }
        count++;
        if (count === LINES) resolve();
      }
    });
    hog.resume();
  });
  await withTimeout(done, 120_000, `all ${LINES} replies`).catch(() => undefined);
  t.equal(count, LINES, `all ${LINES} replies arrived once the client read them`);
  t.equal(wrong, 0, 'each the stats reply to its request, in order');
});

t.test('the server stayed up and other clients were unaffected', async (t) => {
  t.notOk(server.hasExited(), 'the server is running');
  const id = await app.sendTo('bystander', 'after the garbage');
  const body = expectPollResponse(t, await bystander.readResponse({ timeoutMs: 20_000 }));
  t.same([body.cursor, body.messages], [id, ['after the garbage']], 'the bystander poll held since the start gets its message');

  const sent = await sender.finish();
  const ok = num(sent, 'deliveries_ok');
  t.equal(num(sent, 'deliveries_refused'), 0, `the sender had all ${ok} messages accepted`);
  await pollers.waitProgress(`the pollers to receive all ${ok} messages`, (p) => p.received - p.duplicated >= ok, 30_000).catch(() => undefined);
  const polled = await pollers.finish();
  t.equal(num(polled, 'duplicated'), 0, 'no steady poller got a message twice or out of order');
  t.equal(num(polled, 'gaps'), 0, 'no steady poller skipped a message');
  t.equal(num(polled, 'received') - num(polled, 'duplicated'), ok, `every accepted message was delivered (${num(polled, 'received')} of ${ok})`);
  t.same(polled.errors, { connect: 0, server_closed: 0, http_status: 0, bad_response: 0, bad_cursor: 0 }, 'no steady poller saw an error');
});
