// Fault probe: a 3-minute soak with churn. 2,000 steady pollers (native load
// generator) receive 2,000 messages/s between them while 200 connections/s
// come, poll and leave after 500 ms without an answer (a browser leaving the
// page), on a server with 2 worker threads.
//
// Fails if any steady client loses or duplicates a message (sequence numbers
// checked by the load generator; nothing may be refused), if the churn sees a
// failure, or if the server's RSS keeps growing. RSS is read every 2 s from
// /proc; V8's heaps make it a sawtooth, so single readings are never compared,
// only medians of whole minutes of load:
// - steady state: the median of the last minute may be at most 10% above the
//   median of the minute before it;
// - total growth: the median of the last minute may be at most 64 MiB above
//   the RSS of the server holding the 2,000 polls before any load. The load's
//   own state (2,000 short queues, ~100 churning sockets) is a few MB; the rest
//   of the allowance is V8 sizing its heaps up to a sustained load once, which
//   measurements show is all of the growth (+50 MB, flat after the first
//   minute): the main isolate's young generation grows to two 16 MB
//   semi-spaces, and each worker's young and old spaces take ~10 MB more
//   before their first major collection. Growth beyond that is not heap
//   sizing, and growth that goes on is caught by the steady-state check.
// The RSS trace is printed, and so is each isolate's V8 heap space statistics
// at the start and end of the load: the server runs with a test-only preload
// (test/fixtures/heap-trace.cjs, via NODE_OPTIONS) that samples them in the
// main thread and in every worker. NODE_OPTIONS is set to that preload only
// (StartOptions.nodeOptions), so the server runs without the test runner's
// own hooks, which would add a loader thread per isolate and some 57 MB.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { AppConnection } from '../helpers/app-client.js';
import { num, sourceFlags, startLoadgen } from '../helpers/loadgen.js';
import { mb, median, rssBytes } from '../helpers/process-memory.js';
import { startServer } from '../helpers/server.js';
import { sleep, waitFor } from '../helpers/wait.js';

const STEADY = 2000;
const RATE = 2000;
const CHURN_RATE = 200;
const CHURN_HOLD_MS = 500;
const SOAK_S = 180;
const SAMPLE_MS = 2000;
const STEADY_MARGIN = 0.10;
/** RSS the heaps may add once, sizing up to the load (see the header). */
const TOTAL_ALLOWANCE = 64 * 1024 * 1024;
/** The soak must at least have loaded the server this much of the target rates to count. */
const MIN_LOAD = 0.5;

const HEAP_TRACE = fileURLToPath(new URL('../fixtures/heap-trace.cjs', import.meta.url));

interface HeapSample {
  t: number;
  thread: number;
  total: number;
  used: number;
  external: number;
  malloced: number;
  spaces: Record<string, { size: number; used: number }>;
}

function heapLine(s: HeapSample): string {
  const space = (name: string): string => {
    const v = s.spaces[name];
    return v === undefined ? '-' : `${mb(v.used)}/${mb(v.size)}`;
  };
  return `new ${space('new_space')} old ${space('old_space')} code ${space('code_space')} large ${space('large_object_space')} ` +
    `total ${mb(s.total)} external ${mb(s.external)} malloced ${mb(s.malloced)}`;
}

t.test(`soak: ${SOAK_S} s of ${RATE} msgs/s to ${STEADY} pollers with ${CHURN_RATE} connections/s of churn`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'megacomet-soak-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const heapFile = join(dir, 'heap.jsonl');
  const server = await startServer(t, ['--threads', '2'], {
    nodeOptions: `--require=${HEAP_TRACE}`,
    env: { MEGACOMET_TEST_HEAP_TRACE: heapFile, MEGACOMET_TEST_HEAP_TRACE_MS: '10000' },
  });
  const app = await AppConnection.open(server.appPort, t);
  const maxSeconds = String(SOAK_S + 150);

  const pollers = startLoadgen(t, 'poll', ['--port', String(server.httpPort), '--clients', String(STEADY), '--prefix', 'soak',
    '--connect-rate', '2000', ...sourceFlags(2), '--max-seconds', maxSeconds], 'steady pollers');
  await pollers.waitProgress(`${STEADY} steady polls held`, (p) => p.held === STEADY, 60_000);
  await waitFor(`the server to hold ${STEADY} polls`, async () => (await app.stats()).held_polls === STEADY, { timeoutMs: 30_000 });
  const idleReadings: number[] = [];
  for (let i = 0; i < 5; i++) {
    idleReadings.push(rssBytes(server.pid));
    await sleep(200);
  }
  const idle = median(idleReadings);

  const loadStart = Date.now();
  const sender = startLoadgen(t, 'send', ['--app-port', String(server.appPort), '--clients', String(STEADY), '--prefix', 'soak',
    '--rate', String(RATE), '--duration', String(SOAK_S), '--window', '4000', '--max-seconds', maxSeconds], 'sender');
  const churn = startLoadgen(t, 'churn', ['--port', String(server.httpPort), '--rate', String(CHURN_RATE), '--duration', String(SOAK_S),
    '--hold-ms', String(CHURN_HOLD_MS), '--concurrency', '2000', '--prefix', 'churn', ...sourceFlags(6), '--max-seconds', maxSeconds], 'churn');

  // RSS every SAMPLE_MS until the sender is done (it stops generating after SOAK_S).
  const trace: Array<[number, number]> = [];
  while (!sender.hasExited() && Date.now() - loadStart < (SOAK_S + 60) * 1000) {
    trace.push([(Date.now() - loadStart) / 1000, rssBytes(server.pid)]);
    await sleep(SAMPLE_MS);
  }
  const loadEnd = Date.now();

  const sent = await sender.result;
  const churned = await churn.finish(40_000);
  const ok = num(sent, 'deliveries_ok');
  await pollers.waitProgress(`the pollers to receive all ${ok} messages`, (p) => p.received - p.duplicated >= ok, 30_000).catch(() => undefined);
  const polled = await pollers.finish();

  // The trace first, whatever the verdict.
  const rows: string[] = [];
  for (let i = 0; i < trace.length; i += 10) {
    rows.push(trace.slice(i, i + 10).map(([s, rss]) => `${s.toFixed(0)}s ${mb(rss)}`).join(' | '));
  }
  t.comment(`RSS (MB) before the load, holding ${STEADY} polls: ${mb(idle)}; during the load (s since it started, MB):\n${rows.join('\n')}`);
  const minute = (from: number, to: number): number[] => trace.filter(([s]) => s >= from && s < to).map(([, rss]) => rss);
  const first = minute(0, 60);
  const prev = minute(SOAK_S - 120, SOAK_S - 60);
  const last = minute(SOAK_S - 60, SOAK_S + 1);
  t.comment(`RSS medians: first minute ${mb(median(first))} MB, minute before last ${mb(median(prev))} MB, last minute ${mb(median(last))} MB ` +
    `(${first.length}, ${prev.length}, ${last.length} readings)`);

  let heap: HeapSample[] = [];
  try {
    heap = readFileSync(heapFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as HeapSample);
  } catch {
    // Reported below.
  }
  const threads = [...new Set(heap.map((s) => s.thread))].sort((a, b) => a - b);
  const marks = [0, 60, 120, SOAK_S];
  const sampleAt = (thread: number, atMs: number): HeapSample | undefined => {
    const samples = heap.filter((s) => s.thread === thread);
    return samples.filter((s) => s.t <= atMs).at(-1) ?? samples[0];
  };
  const heapReport = threads.map((thread) => {
    const name = thread === 0 ? 'main (manager)' : `worker thread ${thread}`;
    const lines = marks.map((m) => {
      const s = sampleAt(thread, m === SOAK_S ? loadEnd : loadStart + m * 1000);
      return `  ${`+${m}s`.padEnd(6)} ${s ? heapLine(s) : '-'}`;
    });
    return `${name}:\n${lines.join('\n')}`;
  });
  const heapTotal = (atMs: number): number => threads.reduce((n, thread) => n + (sampleAt(thread, atMs)?.total ?? 0), 0);
  t.comment(`V8 heaps (MB, used/size) per isolate, at the load start and after each minute of it (sampled every 10 s):\n${heapReport.join('\n')}\n` +
    `all isolates' heaps: ${mb(heapTotal(loadStart))} MB at the load start, ${mb(heapTotal(loadEnd))} MB at its end; ` +
    `RSS: ${mb(idle)} MB before the load, ${mb(median(last))} MB in the last minute (median)`);
  t.equal(threads.length, 3, `heap statistics came from the main thread and both workers (${threads.length} isolates)`);

  // The load really ran.
  const messages = num(sent, 'messages');
  t.ok(messages >= MIN_LOAD * RATE * SOAK_S, `the sender sent ${messages} messages in ${((loadEnd - loadStart) / 1000).toFixed(0)} s (target ${RATE * SOAK_S})`);
  t.ok(num(churned, 'started') >= MIN_LOAD * CHURN_RATE * SOAK_S,
    `the churn made ${num(churned, 'started')} connections (target ${CHURN_RATE * SOAK_S}), ${num(churned, 'abandoned')} left without an answer`);

  // No loss, no duplicate, no failure.
  t.equal(ok, messages, 'every message was accepted');
  t.same([num(sent, 'deliveries_refused'), num(sent, 'bad_replies'), num(sent, 'unanswered')], [0, 0, 0], `none refused or unanswered: ${JSON.stringify(sent.refused)}`);
  t.equal(num(polled, 'duplicated'), 0, 'no steady poller got a message twice or out of order');
  t.equal(num(polled, 'gaps'), 0, 'no steady poller skipped a message');
  t.equal(num(polled, 'received') - num(polled, 'duplicated'), ok, `every accepted message was delivered (${num(polled, 'received')} of ${ok})`);
  t.same(polled.errors, { connect: 0, server_closed: 0, http_status: 0, bad_response: 0, bad_cursor: 0 }, 'no steady poller saw an error');
  t.equal(num(churned, 'failures.connect') + num(churned, 'failures.write') + num(churned, 'failures.closed') + num(churned, 'failures.http_status') +
    num(churned, 'failures.bad_response'), 0, `no churn cycle failed: ${JSON.stringify(churned.failures)}`);

  // RSS does not keep growing.
  t.ok(last.length >= 20 && prev.length >= 20, 'at least 20 RSS readings in each of the last two minutes');
  t.ok(median(last) <= (1 + STEADY_MARGIN) * median(prev),
    `steady state: the last minute's median RSS (${mb(median(last))} MB) is at most ${STEADY_MARGIN * 100}% above the minute before's (${mb(median(prev))} MB)`);
  t.ok(median(last) <= idle + TOTAL_ALLOWANCE,
    `total growth: the last minute's median RSS (${mb(median(last))} MB) is at most ${mb(TOTAL_ALLOWANCE)} MB above the RSS before the load (${mb(idle)} MB)`);
});
