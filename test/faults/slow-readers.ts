// Fault probe: slow readers and resets, beside 50 steady pollers (native load
// generator, fed 100 messages/s).
//
// Slow readers (ARCHITECTURE.md, the engine: "write stall (a reader that takes
// nothing for --keepalive-timeout)"; PROTOCOL.md: one request outstanding per
// connection, answers in request order): 16 connections each pipeline 20
// polls whose answers are 720 KB each (12 queued messages of 60 KB, never
// acknowledged, so every poll gets them again) and never read. The server
// writes what the kernel takes, keeps at most the unsent rest of one answer
// per connection, and closes each connection --keepalive-timeout after it
// stopped making progress. Asserted: the server's RSS stays far below what
// buffering the 320 answers would cost; each connection's server side leaves
// ESTABLISHED (from /proc/net/tcp) not before --keepalive-timeout counted from
// before the polls were sent and within a generous bound; the client then
// finds fewer than 20 answers and the close.
//
// Resets (socket.resetAndDestroy(), an RST): 20 clients reset in the middle of
// a 720 KB answer, 20 reset while their poll is held. The server stays up,
// stats show them gone (connections, held polls, the clients' status), a
// message sent to a client whose poll vanished stays queued for its next poll,
// and the steady pollers lose nothing.
import { connect, type Socket } from 'node:net';
import t from 'tap';
import { AppConnection } from '../helpers/app-client.js';
import { expectPollResponse } from '../helpers/expect.js';
import { RawHttpConnection } from '../helpers/http-client.js';
import { num, sourceFlags, startLoadgen } from '../helpers/loadgen.js';
import { mb, MB, median, rssBytes } from '../helpers/process-memory.js';
import { PLAIN_NODE, startServer } from '../helpers/server.js';
import { TCP_ESTABLISHED, tcpStatesByRemotePort } from '../helpers/tcp-states.js';
import { mapLimit, settle, sleep, waitFor } from '../helpers/wait.js';

const KEEPALIVE_S = 3;
const STEADY = 50;
const RATE = 100;
const BIG_CLIENTS = 16;
const MESSAGES_PER_BIG = 12;
const MESSAGE_CHARS = 60_000;
const PIPELINED = 20;
const RESETS = 20;
const GENEROUS_MS = 30_000;

const server = await startServer(t, ['--threads', '2', '--keepalive-timeout', String(KEEPALIVE_S), '--poll-timeout', '120'], PLAIN_NODE);
const port = server.httpPort;
const app = await AppConnection.open(server.appPort, t);
const pollers = startLoadgen(t, 'poll', ['--port', String(port), '--clients', String(STEADY), '--prefix', 'steady', ...sourceFlags(2), '--max-seconds', '240'], 'steady pollers');
await pollers.waitProgress(`${STEADY} steady polls held`, (p) => p.held === STEADY);
const sender = startLoadgen(t, 'send', ['--app-port', String(server.appPort), '--clients', String(STEADY), '--prefix', 'steady',
  '--rate', String(RATE), '--duration', '180', '--max-seconds', '240'], 'sender');
await pollers.waitProgress('the first messages', (p) => p.received > 0);

// 12 messages of 60 KB for each big client: every poll of it is answered with all of them (720 KB).
const bigData = JSON.stringify('b'.repeat(MESSAGE_CHARS));
const sends: Array<Promise<number>> = [];
for (let c = 0; c < BIG_CLIENTS; c++) for (let m = 0; m < MESSAGES_PER_BIG; m++) sends.push(app.sendTo(`big-${c}`, JSON.parse(bigData)));
await Promise.all(sends);
const pollOf = (client: string): string => `GET /poll?client=${client} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;

/** Opens a raw socket from 127.0.0.<octet>; destroyed in teardown. */
function openSocket(octet: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress: `127.0.0.${octet}` });
    socket.on('error', () => undefined);
    t.teardown(() => socket.destroy());
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

t.test('slow readers: bounded memory, closed --keepalive-timeout after the writes stall', async (t) => {
  const probe = await RawHttpConnection.open(port, t);
  const answer = await probe.get('/poll?client=big-0');
  probe.destroy();
  const answerBytes = answer.raw.length;
  const body = expectPollResponse(t, answer);
  t.equal(body.messages.length, MESSAGES_PER_BIG, `a poll of a big client is answered with its ${MESSAGES_PER_BIG} messages (${mb(answerBytes)} MB)`);
  const unbounded = BIG_CLIENTS * PIPELINED * answerBytes;
  const BOUND = 96 * MB;
  t.ok(unbounded >= 2 * BOUND, `buffering every pipelined answer would cost ${mb(unbounded)} MB, over twice the bound of ${mb(BOUND)} MB`);

  const readings: number[] = [];
  for (let i = 0; i < 5; i++) {
    readings.push(rssBytes(server.pid));
    await sleep(100);
  }
  const before = median(readings);

  const sentAt = Date.now();
  const slow = await mapLimit(Array.from({ length: BIG_CLIENTS }, (_, i) => i), BIG_CLIENTS, async (i) => {
    const socket = await openSocket(30 + (i % 4));
    socket.pause(); // never read
    socket.write(pollOf(`big-${i}`).repeat(PIPELINED));
    return socket;
  });
  const ports = slow.map((s) => s.localPort as number);

  // Until every slow connection's server side has left ESTABLISHED: the peak RSS, and when each left.
  const leftAt = new Map<number, number>();
  let peak = before;
  while (leftAt.size < ports.length && Date.now() - sentAt < KEEPALIVE_S * 1000 + GENEROUS_MS) {
    peak = Math.max(peak, rssBytes(server.pid));
    const states = tcpStatesByRemotePort(port);
    const now = Date.now();
    for (const p of ports) if (!leftAt.has(p) && states.get(p) !== TCP_ESTABLISHED) leftAt.set(p, now);
    await sleep(50);
  }
  t.equal(leftAt.size, BIG_CLIENTS, `the server closed all ${BIG_CLIENTS} slow readers (${leftAt.size})`);
  const elapsed = [...leftAt.values()].map((at) => at - sentAt);
  t.ok(Math.min(...elapsed) >= KEEPALIVE_S * 1000 - 10, `none before --keepalive-timeout (${KEEPALIVE_S} s) from before its polls were sent: ${Math.min(...elapsed)}..${Math.max(...elapsed)} ms`);
  t.ok(Math.max(...elapsed) <= KEEPALIVE_S * 1000 + GENEROUS_MS, `all within ${KEEPALIVE_S} s + ${GENEROUS_MS} ms`);
  t.ok(peak - before < BOUND, `server RSS grew ${mb(peak - before)} MB (from ${mb(before)} to ${mb(peak)} MB) with ${mb(unbounded)} MB of answers unread, under ${mb(BOUND)} MB`);

  // Reading now, each client finds what the kernel held for it and then the close: fewer than 20 answers.
  const received = await mapLimit(slow, BIG_CLIENTS, (socket) => new Promise<number>((resolve) => {
    let bytes = 0;
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    socket.once('close', () => resolve(bytes));
    socket.resume();
  }));
  const complete = received.map((bytes) => Math.floor(bytes / answerBytes));
  t.ok(complete.every((n) => n < PIPELINED), `each slow reader got ${Math.min(...complete)}..${Math.max(...complete)} of its ${PIPELINED} answers, then the close`);

  const stats = await settle(() => app.stats(), (s) => s.connections === STEADY, { timeoutMs: 10_000 });
  t.equal(stats.connections, STEADY, `stats show them gone: ${stats.connections} connections, the steady pollers'`);
});

t.test('resets mid-response and mid-poll: the server drops them and goes on', async (t) => {
  // Mid-response: 5 pipelined 720 KB answers, reset at the first bytes.
  const midResponse = await mapLimit(Array.from({ length: RESETS }, (_, i) => i), RESETS, async (i) => {
    const socket = await openSocket(34 + (i % 4));
    const firstBytes = new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.write(pollOf(`big-${i % BIG_CLIENTS}`).repeat(5));
    await firstBytes;
    socket.resetAndDestroy();
    return socket;
  });
  t.equal(midResponse.length, RESETS, `${RESETS} clients reset in the middle of their answers`);

  // Mid-poll: held polls, then RST.
  const midPoll = await mapLimit(Array.from({ length: RESETS }, (_, i) => i), RESETS, async (i) => {
    const socket = await openSocket(38 + (i % 4));
    socket.write(pollOf(`reset-${i}`));
    return socket;
  });
  await waitFor(`${RESETS} reset-* polls to be held`, async () => {
    for (let i = 0; i < RESETS; i++) if (!(await app.status(`reset-${i}`)).connected) return false;
    return true;
  }, { timeoutMs: 20_000 });
  for (const socket of midPoll) socket.resetAndDestroy();

  const stats = await settle(() => app.stats(), (s) => s.connections === STEADY && s.held_polls <= STEADY, { timeoutMs: 10_000 });
  t.equal(stats.connections, STEADY, `stats show every reset connection gone (${stats.connections} connections)`);
  t.ok(stats.held_polls <= STEADY, `and no reset poll held (${stats.held_polls} held)`);
  const still = [];
  for (let i = 0; i < RESETS; i++) if ((await app.status(`reset-${i}`)).connected) still.push(i);
  t.same(still, [], 'each reset client shows as not connected');

  // A message to a client whose poll vanished stays queued for its next poll.
  const id = await app.sendTo('reset-0', 'after the reset');
  t.same(await app.status('reset-0'), { connected: false, queued: 1 }, 'a send to it is queued');
  const conn = await RawHttpConnection.open(port, t);
  const body = expectPollResponse(t, await conn.get('/poll?client=reset-0'));
  t.same([body.cursor, body.messages], [id, ['after the reset']], 'and delivered to its next poll');
});

t.test('the server stayed up and the steady pollers lost nothing', async (t) => {
  t.notOk(server.hasExited(), 'the server is running');
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
