// Fault probe: SIGKILL and a restart on the same ports, with 50 clients that
// keep polling with their cursor throughout (reconnecting on their own, as a
// browser would).
//
// PROTOCOL.md section 1 and OPERATIONS.md ("What each failure costs"): ids
// only ever increase, also across a restart, so a cursor from before the
// restart never hides a newer message; clients lose nothing they had already
// received. Asserted: every poller resumes against the new process with its
// old cursor; the 10 messages sent to each after the restart are delivered
// exactly once and in order; every id after the restart is above every id
// before it, including the ids of 30 pipelined `send`s with `clients` of
// 10,000 ids issued right before the kill (the burst that once ran the id
// counter ahead of the clock: the id-lead fix in src/manager/id-counter.ts).
//
// Lost by design, and not asserted on: messages the server accepted before
// the kill and had not delivered (it holds them in memory only; OPERATIONS.md).
// The probe queues some (for a client that never polls) so the kill happens
// with undelivered messages, and ignores them: the pollers check only the
// messages sent after the restart.
//
// What the burst can show depends on the machine: the old defect needed the
// counter to run ahead of the clock (over 1,000 ids per ms) by more than the
// restart takes. The probe prints the ids per ms it reached and the restart
// time, so a run says whether it could have caught that defect.
import t from 'tap';
import { AppConnection } from '../helpers/app-client.js';
import { RawHttpConnection } from '../helpers/http-client.js';
import { pollBody } from '../helpers/poll.js';
import { PLAIN_NODE, startServer } from '../helpers/server.js';
import { sleep, waitFor } from '../helpers/wait.js';

const POLLERS = 50;
const BEFORE = 3;
const AFTER = 10;
const BURSTS = 30;
const BURST_WIDTH = 10_000;
const GENEROUS_MS = 30_000;

interface Received {
  cursor: number;
  messages: unknown[];
}

/** A client that polls with its cursor for as long as it runs, reconnecting (every 50 ms) whenever the connection fails. */
class ResumingPoller {
  cursor = 0;
  readonly received: Received[] = [];
  readonly errors: string[] = [];
  reconnects = 0;
  private running = true;
  private conn: RawHttpConnection | undefined;
  readonly done: Promise<void>;

  constructor(readonly client: string, private readonly port: number) {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      try {
        this.conn = await RawHttpConnection.open(this.port);
      } catch {
        this.reconnects++;
        await sleep(50);
        continue;
      }
      try {
        while (this.running) {
          const res = await this.conn.get(`/poll?client=${this.client}&since=${this.cursor}`, {}, { timeoutMs: 120_000 });
          if (res.status !== 200) {
            this.errors.push(`status ${res.status}: ${res.text.slice(0, 100)}`);
            break;
          }
          const body = pollBody(res);
          if (body.cursor < this.cursor) this.errors.push(`cursor ${body.cursor} below since ${this.cursor}`);
          if (body.messages.length > 0) this.received.push({ cursor: body.cursor, messages: body.messages });
          this.cursor = body.cursor;
        }
      } catch {
        // The connection failed (the kill): connect again and poll with the same cursor.
        this.reconnects++;
      }
      this.conn.destroy();
      if (this.running) await sleep(50);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.conn?.destroy();
    await this.done;
  }

  /** The data of every message received, in order. */
  messages(): unknown[] {
    return this.received.flatMap((r) => r.messages);
  }
}

t.test('SIGKILL and restart: pollers resume with their cursors, later messages arrive once and in order with higher ids', async (t) => {
  const flags = ['--threads', '2', '--poll-timeout', '60'];
  const first = await startServer(t, flags, PLAIN_NODE);
  const app1 = await AppConnection.open(first.appPort, t);
  const pollers = Array.from({ length: POLLERS }, (_, i) => new ResumingPoller(`resume-${i}`, first.httpPort));
  t.teardown(() => Promise.all(pollers.map((p) => p.stop())));
  await waitFor(`${POLLERS} polls held`, async () => (await app1.stats()).held_polls === POLLERS, { timeoutMs: GENEROUS_MS });

  // Before: a few messages each, delivered.
  const idsBefore: number[] = [];
  for (let n = 1; n <= BEFORE; n++) for (const p of pollers) idsBefore.push(await app1.sendTo(p.client, { phase: 'before', n }));
  await waitFor('the pollers to receive the messages before the burst', () => pollers.every((p) => p.messages().length === BEFORE), { timeoutMs: GENEROUS_MS });

  // The burst: 30 pipelined sends to 10,000 clients each, the pollers among them, then the kill at once.
  const others = Array.from({ length: BURST_WIDTH - POLLERS }, (_, i) => `burst-${i}`);
  const line = JSON.stringify({ op: 'send', clients: [...pollers.map((p) => p.client), ...others], data: { phase: 'burst' } });
  const burstStart = Date.now();
  const replies = Array.from({ length: BURSTS }, () => app1.readReply(GENEROUS_MS));
  app1.writeRaw(`${line}\n`.repeat(BURSTS));
  const burst = await Promise.all(replies);
  const burstMs = Date.now() - burstStart;
  t.ok(burst.every((r) => r.ok === true && r.ids?.length === BURST_WIDTH), `the ${BURSTS} bursts of ${BURST_WIDTH} ids were accepted`);
  const lastBurst = burst.at(-1)?.ids ?? [];
  let maxBefore = 0;
  for (const id of [...idsBefore, ...burst.flatMap((r) => r.ids ?? [])]) if (id > maxBefore) maxBefore = id;
  await waitFor('the pollers to receive the burst', () => pollers.every((p, i) => p.cursor === lastBurst[i]), { timeoutMs: GENEROUS_MS });
  // Accepted and never delivered: lost with the process, by design (see the header). Not checked.
  await app1.sendTo('never-polls', 'lost by design');

  const killedAt = Date.now();
  const exit = await first.stop('SIGKILL');
  t.same(exit, { code: null, signal: 'SIGKILL' }, 'the first server was killed');
  const aheadMs = maxBefore / 1000 - killedAt;

  const second = await startServer(t, [...flags, '--port', String(first.httpPort), '--app-port', String(first.appPort)], PLAIN_NODE);
  const restartMs = Date.now() - killedAt;
  t.same([second.httpPort, second.appPort], [first.httpPort, first.appPort], 'the second server serves the same ports');
  t.comment(`burst: ${BURSTS * BURST_WIDTH} ids in ${burstMs} ms (${Math.round((BURSTS * BURST_WIDTH) / burstMs)} ids/ms; over 1000/ms runs ahead of the clock); ` +
    `at the kill the last id stood ${aheadMs.toFixed(0)} ms off the clock (positive: ahead); the restart took ${restartMs} ms`);

  const app2 = await AppConnection.open(second.appPort, t);
  await waitFor(`all ${POLLERS} pollers to poll the new server with their cursors`, async () => {
    const stats = await app2.stats();
    return stats.held_polls === POLLERS;
  }, { timeoutMs: GENEROUS_MS });
  t.ok(pollers.every((p) => p.reconnects > 0), 'every poller lost its connection to the kill and reconnected');
  t.ok(pollers.every((p, i) => p.cursor === lastBurst[i]), 'and resumed with the cursor it had before the kill');

  const firstAfter = await app2.sendTo('probe-after', 'first id after the restart');
  t.ok(firstAfter > maxBefore, `the first id after the restart (${firstAfter}) is above every id before it (${maxBefore})`);
  const idsAfter: number[] = [firstAfter];
  for (let n = 1; n <= AFTER; n++) for (const p of pollers) idsAfter.push(await app2.sendTo(p.client, { phase: 'after', n }));
  const afterOf = (p: ResumingPoller): unknown[] => p.messages().filter((m) => (m as { phase?: string }).phase === 'after');
  await waitFor('every poller to receive the messages sent after the restart', () => pollers.every((p) => afterOf(p).length >= AFTER), { timeoutMs: GENEROUS_MS });

  t.ok(idsAfter.every((id) => id > maxBefore), 'every id after the restart is above every id before it');
  const expected = Array.from({ length: AFTER }, (_, i) => ({ phase: 'after', n: i + 1 }));
  const wrong = pollers.filter((p) => JSON.stringify(afterOf(p)) !== JSON.stringify(expected));
  t.equal(wrong.length, 0, `each poller got the ${AFTER} messages sent after the restart exactly once, in order` +
    (wrong.length ? `; e.g. ${wrong[0]?.client}: ${JSON.stringify(afterOf(wrong[0] as ResumingPoller))}` : ''));
  const cursorsAfter = pollers.flatMap((p) => p.received.filter((r) => r.messages.some((m) => (m as { phase?: string }).phase === 'after')).map((r) => r.cursor));
  t.ok(cursorsAfter.every((c) => c > maxBefore), 'the cursors of those answers are above every id before the restart');
  const increasing = pollers.every((p) => p.received.every((r, i) => i === 0 || r.cursor > (p.received[i - 1] as Received).cursor));
  t.ok(increasing, 'each poller saw its cursor only increase');
  const errors = pollers.flatMap((p) => p.errors.map((e) => `${p.client}: ${e}`));
  t.same(errors, [], 'no poll was refused or answered below its cursor');
  await Promise.all(pollers.map((p) => p.stop()));
});
