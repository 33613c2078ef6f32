// Fault probe: a connection flood past --max-connections. With a limit of 300
// and 100 steady pollers (native load generator, fed 100 messages/s) holding
// their polls, 1,500 clients connect at once and each asks for a poll.
//
// PROTOCOL.md section 1 and OPERATIONS.md: past --max-connections new
// connections get 503 and are closed at once; held polls keep being served.
// Asserted: exactly the 200 connections that fit are held, each of the other
// 1,300 got a 503 (JSON service_unavailable, CORS) and was closed, none hangs
// unaccounted for, and stats count exactly those refusals; held polls (the
// steady ones and flood polls that got in) are answered during the flood;
// once the flood leaves, newcomers are served up to the limit again (and the
// one past it is still refused); the steady pollers lost nothing.
import t from 'tap';
import { AppConnection } from '../helpers/app-client.js';
import { num, sourceFlags, startLoadgen } from '../helpers/loadgen.js';
import { PLAIN_NODE, startServer } from '../helpers/server.js';
import { firstResponse, openFleet, sample, waitAllClosed, type FleetResponse, type FleetSocket } from '../helpers/socket-fleet.js';
import { mapLimit, settle, waitFor } from '../helpers/wait.js';

const MAX = 300;
const STEADY = 100;
const FLOOD = 1500;
const FITS = MAX - STEADY;
const RATE = 100;
const GENEROUS_MS = 20_000;
/** How long the flood goes on after its first wave. */
const SUSTAIN_MS = 3000;

const pollRequest = (client: string): string => `GET /poll?client=${client} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;

t.test('connection flood: past --max-connections newcomers get 503 and are closed, held polls keep being served', async (t) => {
  const server = await startServer(t, ['--threads', '2', '--max-connections', String(MAX), '--poll-timeout', '120'], PLAIN_NODE);
  t.equal(server.maxConnections, MAX, `the ready line shows --max-connections ${MAX}`);
  const app = await AppConnection.open(server.appPort, t);
  const port = String(server.httpPort);

  const pollers = startLoadgen(t, 'poll', ['--port', port, '--clients', String(STEADY), '--prefix', 'steady', ...sourceFlags(2), '--max-seconds', '240'], 'steady pollers');
  await pollers.waitProgress(`${STEADY} steady polls held`, (p) => p.held === STEADY);
  await waitFor(`the server to hold ${STEADY} polls`, async () => (await app.stats()).held_polls === STEADY, { timeoutMs: 20_000 });
  const sender = startLoadgen(t, 'send', ['--app-port', String(server.appPort), '--clients', String(STEADY), '--prefix', 'steady',
    '--rate', String(RATE), '--duration', '180', '--max-seconds', '240'], 'sender');
  await pollers.waitProgress('the first messages', (p) => p.received > 0);
  const refusedBefore = (await app.stats()).connections_refused as number;

  const floodStart = Date.now();
  const flood = await openFleet(t, {
    port: server.httpPort, count: FLOOD, sourceBase: 20, concurrency: 300,
    onConnect: (s) => s.socket.write(pollRequest(`flood-${s.index}`)),
  });
  t.equal(flood.filter((s) => s.connectError !== undefined).length, 0, `the kernel accepted all ${FLOOD} flood connections`);

  // Every flood connection ends up either refused (answer and close) or held by the server.
  const settled = await settle(async () => {
    const stats = await app.stats();
    const closed = flood.filter((s) => s.closedAt !== undefined).length;
    return { stats, closed };
  }, ({ stats, closed }) => closed + stats.held_polls - STEADY === FLOOD && stats.connections === MAX, { timeoutMs: GENEROUS_MS });
  const floodSettled = Date.now();
  t.equal(settled.stats.connections, MAX, `the server holds exactly --max-connections (${settled.stats.connections})`);
  t.equal(settled.stats.held_polls, MAX, `all of them held polls: ${STEADY} steady + ${FITS} from the flood (${settled.stats.held_polls})`);

  const refused = flood.filter((s) => s.closedAt !== undefined);
  const kept = flood.filter((s) => s.closedAt === undefined);
  t.equal(refused.length, FLOOD - FITS, `${FLOOD - FITS} flood connections were refused and closed (${refused.length}; the flood settled in ${floodSettled - floodStart} ms)`);
  t.equal(kept.length, FITS, `${FITS} got in (${kept.length})`);
  const answers = refused.map((s) => ({ s, answer: firstResponse(s) }));
  const not503 = answers.filter(({ answer }) => answer === undefined || answer.status !== 503);
  t.equal(not503.length, 0, 'every refused connection got a complete 503 before the close' +
    (not503.length ? `: ${sample(not503, ({ s }) => `#${s.index} ${s.closeError ?? 'FIN'} ${JSON.stringify(s.received.toString('latin1').slice(0, 60))}`)}` : ''));
  const badBody = answers.filter(({ answer }) => answer !== undefined && answer.status === 503 &&
    !(/"error":"service_unavailable"/.test(answer.body) && /\r\nAccess-Control-Allow-Origin: \*\r\n/i.test(answer.head + '\r\n')));
  t.equal(badBody.length, 0, 'each 503 is the JSON service_unavailable error with CORS' + (badBody.length ? `: ${JSON.stringify(badBody[0]?.answer)}` : ''));
  const slowest = Math.max(...refused.map((s) => (s.closedAt as number) - s.connectStart));
  t.ok(slowest < GENEROUS_MS, `each was closed promptly (slowest ${slowest} ms after its connect)`);
  const keptAnswered = kept.filter((s) => s.receivedBytes > 0);
  t.equal(keptAnswered.length, 0, 'the flood polls that got in are held, unanswered');
  const statuses = await mapLimit(kept, 50, (s) => app.status(`flood-${s.index}`));
  t.equal(statuses.filter((st) => st.connected).length, FITS, 'and the server shows each of their clients connected: none hangs unaccounted for');

  // The flood goes on (waves of connections for SUSTAIN_MS, every one refused) while held polls keep
  // being served: the steady pollers' messages keep coming, and a message wakes a held flood poll.
  const sustainStart = Date.now();
  const receivedAtSustain = pollers.progress().received ?? 0;
  const woken = kept.slice(0, 10);
  const waking = (async () => {
    for (const s of woken) await app.sendTo(`flood-${s.index}`, { woken: s.index });
  })();
  const waves: FleetSocket[] = [];
  for (let wave = 0; Date.now() - sustainStart < SUSTAIN_MS && wave < 100; wave++) {
    waves.push(...await openFleet(t, {
      port: server.httpPort, count: 200, sourceBase: 20, concurrency: 100, firstIndex: FLOOD + wave * 200,
      onConnect: (s) => s.socket.write(pollRequest(`flood-${s.index}`)),
    }));
  }
  await waking;
  const stillOpen = await waitAllClosed(waves, GENEROUS_MS);
  const sustainEnd = Date.now();
  const receivedSustained = (pollers.progress().received ?? 0) - receivedAtSustain;
  t.equal(stillOpen.length, 0, `a sustained flood of ${waves.length} more connections over ${sustainEnd - sustainStart} ms: every one closed`);
  const waveNot503 = waves.filter((s) => firstResponse(s)?.status !== 503);
  t.equal(waveNot503.length, 0, 'every one after a 503' + (waveNot503.length ? `: ${sample(waveNot503, (s) => `#${s.index} ${s.closeError ?? 'FIN'} ${JSON.stringify(s.received.toString('latin1').slice(0, 60))}`)}` : ''));
  t.ok(receivedSustained > 0, `the steady pollers received ${receivedSustained} messages during the sustained flood (${RATE} msgs/s sent)`);
  await waitFor('the woken flood polls to be answered', () => woken.every((s) => firstResponse(s) !== undefined), { timeoutMs: GENEROUS_MS });
  const wokenBodies = woken.map((s) => firstResponse(s) as FleetResponse);
  t.ok(wokenBodies.every((a, i) => a.status === 200 && a.body.includes(`{"woken":${woken[i]?.index}}`)),
    `a message wakes a held flood poll during the flood: ${JSON.stringify(wokenBodies[0]?.body)}`);
  const stats = await settle(() => app.stats(), (st) => (st.connections_refused as number) - refusedBefore === FLOOD - FITS + waves.length, { timeoutMs: 5_000 });
  t.equal((stats.connections_refused as number) - refusedBefore, FLOOD - FITS + waves.length, 'stats count exactly those refusals (connections_refused)');

  // The flood leaves; newcomers are served up to the limit again.
  for (const s of kept) s.destroy();
  const after = await settle(() => app.stats(), (s) => s.connections === STEADY && s.held_polls === STEADY, { timeoutMs: GENEROUS_MS });
  t.equal(after.connections, STEADY, `once the flood left the server counts the ${STEADY} steady connections (${after.connections})`);
  const newcomers = await openFleet(t, {
    port: server.httpPort, count: FITS, sourceBase: 24,
    onConnect: (s) => s.socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'),
  });
  await waitFor('every newcomer to be answered', () => newcomers.every((s) => firstResponse(s) !== undefined || s.closedAt !== undefined), { timeoutMs: GENEROUS_MS });
  const served = newcomers.filter((s) => firstResponse(s)?.status === 200);
  t.equal(served.length, FITS, `all ${FITS} newcomers are served (200): ${served.length}` +
    (served.length < FITS ? `; others: ${sample(newcomers.filter((s) => firstResponse(s)?.status !== 200), (s) => `#${s.index} ${JSON.stringify(s.received.toString('latin1').slice(0, 40))} ${s.closeError ?? ''}`)}` : ''));
  const [extra] = await openFleet(t, { port: server.httpPort, count: 1, sourceBase: 28, firstIndex: 9999 });
  if (extra !== undefined) {
    await waitAllClosed([extra], GENEROUS_MS);
    t.equal(firstResponse(extra)?.status, 503, 'and the limit still holds: one more gets 503 and is closed');
  }
  for (const s of newcomers) s.destroy();

  const sent = await sender.finish();
  const ok = num(sent, 'deliveries_ok');
  t.equal(num(sent, 'deliveries_refused'), 0, `the sender had all ${ok} messages accepted`);
  await pollers.waitProgress(`the pollers to receive all ${ok} messages`, (p) => p.received - p.duplicated >= ok, 30_000).catch(() => undefined);
  const polled = await pollers.finish();
  t.equal(num(polled, 'duplicated'), 0, 'no steady poller got a message twice or out of order');
  t.equal(num(polled, 'gaps'), 0, 'no steady poller skipped a message');
  t.equal(num(polled, 'received') - num(polled, 'duplicated'), ok, `every accepted message was delivered (${num(polled, 'received')} of ${ok})`);
  t.same(polled.errors, { connect: 0, server_closed: 0, http_status: 0, bad_response: 0, bad_cursor: 0 }, 'no steady poller saw an error (no 503, no close)');
});
