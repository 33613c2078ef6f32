// Acceptance: 2,000 polling clients and a steady stream of sends across three
// handovers (--takeover): every message the server acknowledged with ok is
// delivered exactly once, in order; a send whose outcome the client could not
// know (SendOutcomeUnknownError: the connection closed before its reply) is
// delivered at most once; nothing else is delivered.
//
// The pollers are this process's own (./helpers/pollers.ts): they keep every
// message they get, so each one is checked by number, not only counted. A
// quarter of them pause between polls, so messages are queued at each
// handover, and LATE clients poll only after the last handover: their queues
// cross all three. Counts go to the TAP output as comments.
import t from 'tap';
import { AppClient, SendOutcomeUnknownError } from '../src/client/index.js';
import { PollerFleet } from './helpers/pollers.js';
import { startServer, type RunningServer } from './helpers/server.js';
import { controlSocketPath, takeOver } from './helpers/takeover.js';
import { waitFor, withTimeout } from './helpers/wait.js';

const CLIENTS = Number(process.env.MEGACOMET_TAKEOVER_CLIENTS ?? 2000);
const HANDOVERS = 3;
/** The stream: this many sends every TICK_MS, at most IN_FLIGHT unanswered (about 1,000 a second). */
const PER_TICK = 10;
const TICK_MS = 10;
const IN_FLIGHT = 64;
/** Sends acknowledged by each process before the next handover starts. */
const OK_PER_PROCESS = 1500;
/** Clients that start polling only after the last handover. */
const LATE = 100;
/** Every SLOW_EVERY-th client waits this long after each answer with messages. */
const SLOW_EVERY = 4;
const SLOW_PAUSE_MS = 300;
/** Long enough that nothing expires on a slow machine: an expired message would look lost. */
const FLAGS = ['--poll-timeout', '20', '--ttl', '600'];

t.test(`${CLIENTS} polling clients, a steady stream of sends, ${HANDOVERS} handovers: nothing acknowledged lost or duplicated`, async (t) => {
  const path = controlSocketPath(t);
  let server: RunningServer = await startServer(t, ['--control-socket', path, ...FLAGS]);
  const port = server.httpPort;
  const clients = Array.from({ length: CLIENTS }, (_, i) => `acc-${i}`);
  const fleet = new PollerFleet(port, clients.slice(0, CLIENTS - LATE), undefined, (i) => (i % SLOW_EVERY === 0 ? SLOW_PAUSE_MS : 0));
  const late = new PollerFleet(port, clients.slice(CLIENTS - LATE));
  const pollers = [...fleet.pollers, ...late.pollers];
  fleet.start();
  t.teardown(() => fleet.stop());
  t.teardown(() => late.stop());
  const app = await AppClient.connect({ port: server.appPort });
  t.teardown(() => app.close());

  // Per client: the sequence numbers sent, by outcome.
  const ok = clients.map(() => new Set<number>());
  const unknown = clients.map(() => new Set<number>());
  const refused = clients.map(() => new Set<number>());
  const nextSeq = new Array<number>(CLIENTS).fill(0);
  let okCount = 0;
  let unknownCount = 0;
  let refusedCount = 0;
  let inFlight = 0;
  let sending = true;
  let turn = 0;
  const settled: Array<Promise<void>> = [];
  const tick = setInterval(() => {
    if (!sending) return;
    for (let k = 0; k < PER_TICK && inFlight < IN_FLIGHT; k++) {
      const c = turn++ % CLIENTS;
      const s = ++nextSeq[c]!;
      inFlight++;
      settled.push(
        app.send(clients[c]!, { c, s }).then(
          () => {
            ok[c]!.add(s);
            okCount++;
          },
          (err: unknown) => {
            if (err instanceof SendOutcomeUnknownError) {
              unknown[c]!.add(s);
              unknownCount++;
            } else {
              refused[c]!.add(s);
              refusedCount++;
            }
          },
        ).finally(() => inFlight--),
      );
    }
  }, TICK_MS);
  t.teardown(() => clearInterval(tick));

  await waitFor('every poller polling', async () => fleet.counts.polls >= CLIENTS - LATE, { timeoutMs: 60_000 });
  const handovers: string[] = [];
  for (let h = 1; h <= HANDOVERS; h++) {
    const before = okCount;
    await waitFor(`${OK_PER_PROCESS} sends acknowledged by process ${h}`, () => okCount >= before + OK_PER_PROCESS, { timeoutMs: 60_000 });
    const old = server;
    const { next, oldExit } = await takeOver(t, old, path, FLAGS);
    t.same(oldExit, { code: 0, signal: null }, `handover ${h}: the old process (pid ${old.pid}) exits 0`);
    t.equal(next.httpPort, port, `handover ${h}: the same port`);
    // The log line may trail the ready line (another pipe).
    handovers.push(await waitFor('the takeover log line', () => /took over from pid \d+ in \d+ ms: [^\n]*/.exec(next.stderr())?.[0]));
    server = next;
  }
  const lateQueued = late.pollers.reduce((n, _p, i) => n + ok[CLIENTS - LATE + i]!.size, 0);
  late.start();
  const after = okCount;
  await waitFor(`${OK_PER_PROCESS} sends acknowledged by the last process`, () => okCount >= after + OK_PER_PROCESS, { timeoutMs: 60_000 });
  sending = false;
  clearInterval(tick);
  await withTimeout(Promise.all(settled), 30_000, 'the last sends to be answered');

  await waitFor(
    'every acknowledged message delivered',
    () => pollers.every((p, c) => p.messages.length >= ok[c]!.size),
    { timeoutMs: 60_000 },
  );
  let received = 0;
  let duplicated = 0;
  let outOfOrder = 0;
  let lost = 0;
  let unknownDelivered = 0;
  let unexpected = 0;
  for (const [c, p] of pollers.entries()) {
    const seen = new Set<number>();
    let last = 0;
    for (const m of p.messages) {
      received++;
      const { c: mc, s } = m as { c: number; s: number };
      if (mc !== c) unexpected++;
      if (seen.has(s)) duplicated++;
      else if (s < last) outOfOrder++;
      seen.add(s);
      last = Math.max(last, s);
      if (unknown[c]!.has(s)) unknownDelivered++;
      else if (!ok[c]!.has(s)) unexpected++;
    }
    for (const s of ok[c]!) if (!seen.has(s)) lost++;
  }
  for (const line of handovers) t.comment(line);
  t.comment(
    `sends: ${okCount} ok, ${unknownCount} outcome unknown (${unknownDelivered} of them delivered), ${refusedCount} refused; ` +
      `delivered: ${received} messages to ${CLIENTS} clients; lost ${lost}, duplicated ${duplicated}, out of order ${outOfOrder}, unexpected ${unexpected}; ` +
      `pollers: ${fleet.counts.polls + late.counts.polls} polls, ${fleet.counts.reconnects + late.counts.reconnects} reconnects, ` +
      `${fleet.counts.errors + late.counts.errors} HTTP errors; ${lateQueued} acknowledged messages waited for the ${LATE} late clients across all ${HANDOVERS} handovers`,
  );
  t.equal(lost, 0, 'no acknowledged message lost');
  t.equal(duplicated, 0, 'no message delivered twice');
  t.equal(outOfOrder, 0, 'every client got its messages in send order');
  t.equal(unexpected, 0, 'nothing delivered that was not sent (or was refused), nothing to the wrong client');
  t.equal(refusedCount, 0, 'no send refused');
  t.equal(fleet.counts.errors + late.counts.errors, 0, 'no HTTP error');
  t.equal(received, okCount + unknownDelivered, 'delivered = acknowledged + the unknown ones that were carried out');
});
