// Fault probe: SIGTERM with 5,000 held polls spread over 2 worker threads.
//
// README.md (Flags) and OPERATIONS.md: on SIGTERM the server stops accepting,
// answers every held poll with its empty response carrying the cursor it
// asked with, and exits 0 (the systemd unit there gives it 30 s). Asserted for
// every one of the 5,000: a 200 whose body is exactly
// {"cursor":<its since>,"messages":[]}, then the close; the exit code 0; both
// within a generous bound. The time from the signal to the last answer and to
// the exit is printed.
import t from 'tap';
import { AppConnection } from '../helpers/app-client.js';
import { PLAIN_NODE, startServer } from '../helpers/server.js';
import { firstResponse, openFleet, sample, waitAllClosed } from '../helpers/socket-fleet.js';
import { settle, waitFor } from '../helpers/wait.js';

const HELD = 5000;
const THREADS = 2;
/** OPERATIONS.md's systemd unit: TimeoutStopSec=30. */
const STOP_BOUND_MS = 30_000;

const sinceOf = (i: number): number => 1_000_000_000 + i * 7;

t.test(`SIGTERM with ${HELD} held polls: each answered with its cursor, exit 0`, async (t) => {
  const server = await startServer(t, ['--threads', String(THREADS), '--poll-timeout', '300'], PLAIN_NODE);
  const app = await AppConnection.open(server.appPort, t);
  const opening = Date.now();
  const fleet = await openFleet(t, {
    port: server.httpPort, count: HELD, sourceBase: 50, concurrency: 250,
    onConnect: (s) => s.socket.write(`GET /poll?client=term-${s.index}&since=${sinceOf(s.index)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`),
  });
  t.equal(fleet.filter((s) => s.connectError !== undefined).length, 0, `all ${HELD} connections opened`);
  await waitFor(`${HELD} held polls`, async () => (await app.stats()).held_polls === HELD, { timeoutMs: 60_000 });
  const stats = await settle(() => app.stats(), (s) => s.threads.reduce((n, th) => n + th.held_polls, 0) === HELD);
  t.equal(stats.threads.length, THREADS, `${THREADS} worker threads`);
  t.ok(stats.threads.every((th) => th.held_polls > 0), `each holds some of them: ${stats.threads.map((th) => th.held_polls).join(' + ')} (${Date.now() - opening} ms to hold them all)`);
  t.equal(fleet.filter((s) => s.receivedBytes > 0).length, 0, 'none answered before the signal');

  const signalledAt = Date.now();
  const exit = await server.stop('SIGTERM', STOP_BOUND_MS + 30_000);
  const exitMs = Date.now() - signalledAt;
  const open = await waitAllClosed(fleet, STOP_BOUND_MS);
  const answers = fleet.map((s) => ({ s, res: firstResponse(s) }));
  const lastAnswerMs = Math.max(...fleet.map((s) => (s.firstByteAt ?? Infinity) - signalledAt));

  t.same(exit, { code: 0, signal: null }, 'exit code 0');
  const wrong = answers.filter(({ s, res }) => res === undefined || res.status !== 200 || res.body !== `{"cursor":${sinceOf(s.index)},"messages":[]}`);
  t.equal(wrong.length, 0, `every held poll was answered 200 {"cursor":<its since>,"messages":[]}` +
    (wrong.length ? `: ${sample(wrong, ({ s, res }) => `#${s.index} ${res === undefined ? `incomplete ${JSON.stringify(s.received.toString('latin1').slice(0, 80))} ${s.closeError ?? ''}` : `${res.status} ${res.body}`}`)}` : ''));
  t.ok(answers.every(({ res }) => res === undefined || /\r\ncontent-type: application\/json/i.test(res.head)), 'as JSON');
  t.equal(open.length, 0, 'and every connection was closed');
  t.ok(lastAnswerMs <= STOP_BOUND_MS, `the last answer came ${lastAnswerMs} ms after SIGTERM (bound ${STOP_BOUND_MS} ms)`);
  t.ok(exitMs <= STOP_BOUND_MS, `the server exited ${exitMs} ms after SIGTERM (bound ${STOP_BOUND_MS} ms)`);
  t.comment(`SIGTERM with ${HELD} held polls: last answer after ${lastAnswerMs} ms, exit 0 after ${exitMs} ms`);
});
