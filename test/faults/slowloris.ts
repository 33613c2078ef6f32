// Fault probe: slowloris. Thousands of connections that never finish their
// request head (2,000 sending it one byte every 500 ms, far slower than
// --head-timeout, and 1,000 that send nothing at all) next to 100 steady
// pollers fed 200 messages/s by the native load generator.
//
// PROTOCOL.md section 1: a connection that sends no byte within --head-timeout
// of being accepted, or does not complete its head within --head-timeout of
// its first byte, is closed. Asserted for every one of the 3,000: closed by the
// server (not by us), not before --head-timeout counted from before the client
// connected (the server's clock cannot start earlier), within a generous upper
// bound, without a response. Meanwhile the steady pollers keep getting
// messages in both halves of the attack, and when it is over none of them has
// lost, duplicated or reordered a message (sequence numbers checked by the
// load generator) and the server counts only them as connections.
import t from 'tap';
import { AppConnection } from '../helpers/app-client.js';
import { num, sourceFlags, startLoadgen } from '../helpers/loadgen.js';
import { PLAIN_NODE, startServer } from '../helpers/server.js';
import { openFleet, sample, waitAllClosed, type FleetSocket } from '../helpers/socket-fleet.js';
import { settle, sleep, waitFor } from '../helpers/wait.js';

const HEAD_TIMEOUT_S = 2;
const TRICKLE = 2000;
const SILENT = 1000;
const STEADY = 100;
const RATE = 200;
const BYTE_EVERY_MS = 500;
/** However loaded the machine, a close this long after the timeout is a hang. */
const GENEROUS_MS = 20_000;

t.test('slowloris: connections that never complete a head are closed after --head-timeout; steady pollers lose nothing', async (t) => {
  const server = await startServer(t, ['--threads', '2', '--head-timeout', String(HEAD_TIMEOUT_S)], PLAIN_NODE);
  const app = await AppConnection.open(server.appPort, t);
  const port = String(server.httpPort);

  const pollers = startLoadgen(t, 'poll', ['--port', port, '--clients', String(STEADY), '--prefix', 'steady', ...sourceFlags(2), '--max-seconds', '240'], 'steady pollers');
  await pollers.waitProgress(`${STEADY} steady polls held`, (p) => p.held === STEADY);
  await waitFor(`the server to hold ${STEADY} polls`, async () => (await app.stats()).held_polls === STEADY, { timeoutMs: 20_000 });
  const sender = startLoadgen(t, 'send', ['--app-port', String(server.appPort), '--clients', String(STEADY), '--prefix', 'steady',
    '--rate', String(RATE), '--duration', '180', '--max-seconds', '240'], 'sender');
  await pollers.waitProgress('the first messages', (p) => p.received > 0);

  // The steady pollers' progress over time, to show they kept receiving during the attack.
  const trace: Array<[number, number]> = [];
  let tracing = true;
  const tracer = (async () => {
    while (tracing) {
      trace.push([Date.now(), pollers.progress().received ?? 0]);
      await sleep(100);
    }
  })();

  const attackStart = Date.now();
  const head = `GET /poll?client=slow HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'s'.repeat(200)}\r\n\r\n`;
  const next = new Map<FleetSocket, number>();
  // One timer for all trickling sockets: every BYTE_EVERY_MS each open one gets its next byte.
  // The head (over 200 bytes) would take over 100 s: it never completes. Bounded in time.
  const trickleEnd = attackStart + HEAD_TIMEOUT_S * 1000 + GENEROUS_MS + 30_000;
  const trickler = setInterval(() => {
    for (const [s, i] of next) {
      if (s.closedAt !== undefined || i >= head.length) {
        next.delete(s);
        continue;
      }
      s.socket.write(head[i] as string);
      next.set(s, i + 1);
    }
    if (Date.now() > trickleEnd) clearInterval(trickler);
  }, BYTE_EVERY_MS);
  t.teardown(() => clearInterval(trickler));

  const [trickling, silent] = await Promise.all([
    openFleet(t, {
      port: server.httpPort, count: TRICKLE, sourceBase: 10,
      onConnect: (s) => {
        s.socket.write(head[0] as string);
        next.set(s, 1);
      },
    }),
    openFleet(t, { port: server.httpPort, count: SILENT, sourceBase: 14 }),
  ]);
  const connectedAll = Date.now();
  const all = [...trickling, ...silent];
  const failed = all.filter((s) => s.connectError !== undefined);
  t.equal(failed.length, 0, `all ${all.length} attacking connections were accepted by the kernel (${connectedAll - attackStart} ms to open them)` +
    (failed.length ? `: ${sample(failed, (s) => `#${s.index} ${s.connectError}`)}` : ''));

  const open = await waitAllClosed(all, HEAD_TIMEOUT_S * 1000 + GENEROUS_MS + (connectedAll - attackStart));
  const attackEnd = Date.now();
  clearInterval(trickler);
  tracing = false;
  await tracer;

  t.equal(open.length, 0, `every attacking connection was closed (still open: ${open.length})`);
  const byUs = all.filter((s) => s.destroyedByUs);
  t.equal(byUs.length, 0, 'none of them by the test');
  for (const [name, fleet] of [['trickling', trickling], ['silent', silent]] as const) {
    const closed = fleet.filter((s) => s.closedAt !== undefined && s.connectedAt !== undefined);
    const elapsed = closed.map((s) => (s.closedAt as number) - s.connectStart);
    const early = closed.filter((s) => (s.closedAt as number) - s.connectStart < HEAD_TIMEOUT_S * 1000 - 10);
    const late = closed.filter((s) => (s.closedAt as number) - (s.connectedAt as number) > HEAD_TIMEOUT_S * 1000 + GENEROUS_MS);
    const answered = fleet.filter((s) => s.receivedBytes > 0);
    t.equal(early.length, 0, `${name}: none closed before --head-timeout (${HEAD_TIMEOUT_S} s) from before its connect; ` +
      `closed after ${Math.min(...elapsed)}..${Math.max(...elapsed)} ms` + (early.length ? `; early: ${sample(early, (s) => `#${s.index} ${(s.closedAt as number) - s.connectStart} ms`)}` : ''));
    t.equal(late.length, 0, `${name}: all closed within ${HEAD_TIMEOUT_S} s + ${GENEROUS_MS} ms of connecting`);
    t.equal(answered.length, 0, `${name}: closed without a response` + (answered.length ? `: ${sample(answered, (s) => JSON.stringify(s.received.toString('latin1').slice(0, 80)))}` : ''));
  }
  t.comment(`slowloris: ${TRICKLE} trickling + ${SILENT} silent connections, opened in ${connectedAll - attackStart} ms, all closed ${attackEnd - attackStart} ms after the first connect`);

  // The steady pollers kept receiving through both halves of the attack.
  const mid = attackStart + (attackEnd - attackStart) / 2;
  const receivedAt = (at: number): number => {
    let value = 0;
    for (const [time, received] of trace) if (time <= at) value = received;
    return value;
  };
  const firstHalf = receivedAt(mid) - receivedAt(attackStart);
  const secondHalf = receivedAt(attackEnd) - receivedAt(mid);
  t.ok(firstHalf > 0, `the steady pollers received ${firstHalf} messages in the first half of the attack`);
  t.ok(secondHalf > 0, `and ${secondHalf} in the second half (${RATE} msgs/s sent)`);

  const stats = await settle(() => app.stats(), (s) => s.connections === STEADY && s.held_polls === STEADY, { timeoutMs: 10_000 });
  t.equal(stats.connections, STEADY, `the server counts only the ${STEADY} steady connections afterwards (${stats.connections})`);

  const sent = await sender.finish();
  const ok = num(sent, 'deliveries_ok');
  t.ok(ok > 0, `the sender had ${ok} messages accepted`);
  t.equal(num(sent, 'deliveries_refused'), 0, 'none refused');
  const got = await pollers.waitProgress(`the pollers to receive all ${ok} messages`, (p) => p.received - p.duplicated >= ok, 30_000)
    .catch(() => pollers.progress());
  const polled = await pollers.finish();
  t.equal(num(polled, 'duplicated'), 0, 'no steady poller got a message twice or out of order');
  t.equal(num(polled, 'gaps'), 0, 'no steady poller skipped a message');
  t.equal(num(polled, 'received') - num(polled, 'duplicated'), ok, `every accepted message was delivered (${got.received} received of ${ok})`);
  t.equal(num(polled, 'errors.connect') + num(polled, 'errors.server_closed') + num(polled, 'errors.http_status') + num(polled, 'errors.bad_response'), 0,
    `no steady poller saw an error: ${JSON.stringify(polled.errors)}`);
});
