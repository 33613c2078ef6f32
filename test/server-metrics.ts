// The Prometheus metrics port (docs/OPERATIONS.md, Metrics): the real server
// with --metrics-port 0 is scraped like Prometheus would, every metric in the
// table of OPERATIONS.md is there with HELP and TYPE (and every megacomet_
// metric served is in the table), and the figures move as the traffic says.
import { readFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import { AppConnection } from './helpers/app-client.js';
import { RawHttpConnection, httpGet, httpRequest } from './helpers/http-client.js';
import { pollBody } from './helpers/poll.js';
import { parseExposition, type Exposition } from './helpers/prometheus.js';
import { ROOT, startServer, type RunningServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';

const THREADS = 2;
const MAX_QUEUE = 2;
const POLLS = 6;

interface Documented {
  name: string;
  type: string;
  labels: string[];
}

/** The metrics table of docs/OPERATIONS.md: `| \`name\` | type | labels | meaning |`. */
function documentedMetrics(): Documented[] {
  const text = readFileSync(`${ROOT}docs/OPERATIONS.md`, 'utf8');
  const rows: Documented[] = [];
  for (const line of text.split('\n')) {
    const m = /^\| `(megacomet_[a-z_]+)` \| (\w+) \|([^|]*)\|/.exec(line);
    if (m === null) continue;
    const labels = [...m[3]!.matchAll(/`([a-z_]+)`/g)].map((l) => l[1]!);
    rows.push({ name: m[1]!, type: m[2]!, labels });
  }
  return rows;
}

async function scrape(t: Test, server: RunningServer): Promise<Exposition> {
  const res = await httpGet(t, server.metricsPort!, '/metrics');
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}: ${res.text}`);
  return parseExposition(res.text);
}

t.test('metrics: the exposition, the documented metrics, and figures that follow the traffic', async (t) => {
  const server = await startServer(t, ['--threads', String(THREADS), '--max-queue', String(MAX_QUEUE), '--metrics-port', '0']);
  t.ok(server.metricsPort !== undefined && server.metricsPort > 0, `the ready line shows the metrics port: ${server.readyLine}`);
  t.match(server.readyLine, / metrics=127\.0\.0\.1:\d+$/, 'bound to 127.0.0.1 by default, at the end of the ready line');

  await t.test('GET /metrics is the text format, HELP and TYPE for every documented metric', async (t) => {
    const res = await httpGet(t, server.metricsPort!, '/metrics');
    t.equal(res.status, 200);
    t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/, 'the content type Prometheus expects');
    const x = parseExposition(res.text);
    const documented = documentedMetrics();
    t.ok(documented.length >= 15, `the table in OPERATIONS.md lists ${documented.length} metrics`);
    for (const d of documented) {
      const f = x.families.get(d.name);
      if (f === undefined) {
        t.fail(`${d.name} is documented but not served`);
        continue;
      }
      t.ok(f.help !== undefined && f.help.length > 10, `${d.name} has a HELP line`);
      t.equal(f.type, d.type, `${d.name} is a ${d.type}`);
      t.ok(f.samples.length > 0, `${d.name} has samples`);
      for (const s of f.samples) {
        const names = Object.keys(s.labels).filter((l) => l !== 'le');
        if (names.sort().join(',') !== [...d.labels].sort().join(',')) t.fail(`${s.name} has labels ${JSON.stringify(s.labels)}, documented: ${d.labels.join(', ') || 'none'}`);
      }
      if (d.type === 'counter') t.match(d.name, /_total$/, `${d.name}: a counter ends in _total`);
    }
    const served = [...x.families.keys()].filter((n) => n.startsWith('megacomet_'));
    for (const name of served) t.ok(documented.some((d) => d.name === name), `${name} is served and documented`);
    t.ok(x.families.has('process_cpu_seconds_total') && x.families.has('process_resident_memory_bytes'), 'the standard process metrics');
    t.notOk(x.families.has('process_open_fds'), 'but not process_open_fds (a directory listing per scrape)');

    const threads = (name: string): string[] => x.families.get(name)!.samples.map((s) => s.labels.thread!).sort();
    const workers = Array.from({ length: THREADS }, (_, i) => String(i));
    t.same(threads('megacomet_connections'), workers, 'one connections series per worker');
    t.same(threads('megacomet_held_polls'), workers);
    t.same(threads('megacomet_event_loop_lag_seconds'), [...workers, 'main'].sort(), 'lag for each worker and the main thread');
    t.same(
      x.families.get('megacomet_ring_used_bytes')!.samples.map((s) => `${s.labels.thread}/${s.labels.direction}`).sort(),
      workers.flatMap((w) => [`${w}/to_manager`, `${w}/to_worker`]),
      'both rings of each worker',
    );
    for (const w of workers) t.equal(x.value('megacomet_ring_capacity_bytes', { thread: w, direction: 'to_worker' }), 2 * 1024 * 1024);
    t.same(
      x.families.get('megacomet_messages_refused_total')!.samples.map((s) => s.labels.reason).sort(),
      ['memory_full', 'queue_full', 'store_unavailable'],
      'refusals by reason',
    );
    const buckets = x.families.get('megacomet_delivery_latency_seconds')!.samples.filter((s) => s.name.endsWith('_bucket'));
    t.equal(buckets.at(-1)!.labels.le, '+Inf', 'the histogram ends with +Inf');
    t.ok(x.value('megacomet_memory_budget_bytes')! > 0, 'the memory budget');
  });

  await t.test('other paths and methods on the metrics port', async (t) => {
    t.equal((await httpGet(t, server.metricsPort!, '/')).status, 404);
    t.equal((await httpGet(t, server.metricsPort!, '/metricsx')).status, 404);
    t.equal((await httpGet(t, server.metricsPort!, '/metrics?name[]=x')).status, 200, 'a query is ignored');
    const post = await httpRequest(t, server.metricsPort!, 'POST', '/metrics', { 'Content-Length': '0' });
    t.equal(post.status, 405);
    t.equal(post.headers.allow, 'GET, HEAD');
  });

  await t.test('the polling port does not serve /metrics', async (t) => {
    const res = await httpGet(t, server.httpPort, '/metrics');
    t.equal(res.status, 404);
    t.notMatch(res.text, /megacomet_/);
  });

  await t.test('the figures follow the traffic', async (t) => {
    const before = await scrape(t, server);
    const app = await AppConnection.open(server.appPort, t);
    const appSeen = await waitFor('the app connection in the metrics', async () => {
      const x = await scrape(t, server);
      return x.value('megacomet_app_connections')! >= 1 ? x : undefined;
    });
    t.ok(appSeen.value('megacomet_app_connections')! >= 1, 'app_connections counts the open app connection');

    // Held polls, on several connections (so both workers likely hold some).
    const conns = await Promise.all(Array.from({ length: POLLS }, () => RawHttpConnection.open(server.httpPort, t)));
    const answers = conns.map((c, i) => c.request('GET', `/poll?client=m${i}`, {}, { timeoutMs: 20_000 }));
    for (const a of answers) a.catch(() => undefined);
    const held = await waitFor(`${POLLS} polls held in the metrics`, async () => {
      const x = await scrape(t, server);
      return x.sum('megacomet_held_polls') === POLLS && x.value('megacomet_clients') === POLLS ? x : undefined;
    });
    t.equal(held.sum('megacomet_held_polls'), POLLS, 'held_polls, summed over the threads');
    t.ok(held.sum('megacomet_connections') >= POLLS, 'connections, summed');
    t.ok(
      held.sum('megacomet_connections_accepted_total') >= before.sum('megacomet_connections_accepted_total') + POLLS,
      'connections_accepted_total moved by at least the polls',
    );

    // One message to each held poll: each answered at once.
    const data = (i: number): string => `{"n":${i},"pad":"${'x'.repeat(i)}"}`;
    for (let i = 0; i < POLLS; i++) {
      const reply = await app.request({ op: 'send', client: `m${i}`, data: JSON.parse(data(i)) });
      t.equal(reply.ok, true, `send ${i} ok`);
    }
    for (const [i, a] of answers.entries()) t.same(pollBody(await a).messages, [JSON.parse(data(i))], `poll ${i} answered`);
    const after = await scrape(t, server);
    const moved = (name: string): number => after.value(name)! - before.value(name)!;
    t.equal(moved('megacomet_messages_sent_total'), POLLS, 'sent_total +N');
    t.equal(moved('megacomet_messages_delivered_total'), POLLS, 'delivered_total +N');
    t.equal(moved('megacomet_delivery_latency_seconds_count'), POLLS, 'the latency histogram counted each delivery');
    t.equal(
      after.value('megacomet_delivery_latency_seconds_bucket', { le: '+Inf' }),
      after.value('megacomet_delivery_latency_seconds_count'),
      'its +Inf bucket is its count',
    );
    t.equal(after.value('megacomet_delivery_latency_seconds_count'), after.value('megacomet_messages_delivered_total'), 'and it follows delivered_total');
    t.equal(
      after.value('megacomet_delivery_latency_seconds_bucket', { le: '0.001' })! - before.value('megacomet_delivery_latency_seconds_bucket', { le: '0.001' })!,
      POLLS,
      'sent to held polls: no wait in the manager',
    );
    t.equal(after.value('megacomet_queued_messages'), POLLS, 'delivered but not acknowledged: still queued');
    const chars = Array.from({ length: POLLS }, (_, i) => JSON.stringify(JSON.parse(data(i))).length).reduce((a, b) => a + b, 0);
    t.equal(after.value('megacomet_queued_data_bytes'), chars, 'queued_data_bytes is the data sent');
    t.ok(after.value('megacomet_memory_used_bytes')! > chars, 'memory_used counts the data and more');
    const afterHeld = await waitFor('the answered polls to leave held_polls', async () => {
      const x = await scrape(t, server);
      return x.sum('megacomet_held_polls') === 0 ? x : undefined;
    });
    t.equal(afterHeld.sum('megacomet_held_polls'), 0, 'held polls back to 0');

    // A refusal by queue_full: the client already has MAX_QUEUE unacknowledged messages.
    for (let i = 0; i < MAX_QUEUE; i++) t.equal((await app.request({ op: 'send', client: 'full', data: i })).ok, true);
    const refused = await app.request({ op: 'send', client: 'full', data: 'one too many' });
    t.equal(refused.error, 'queue_full');
    const last = await scrape(t, server);
    t.equal(
      last.value('megacomet_messages_refused_total', { reason: 'queue_full' })! - before.value('megacomet_messages_refused_total', { reason: 'queue_full' })!,
      1,
      'refused_total{reason="queue_full"} +1',
    );
    t.equal(last.value('megacomet_messages_refused_total', { reason: 'memory_full' }), 0, 'memory_full did not move');
    t.equal(last.value('megacomet_messages_sent_total')! - before.value('megacomet_messages_sent_total')!, POLLS + MAX_QUEUE, 'the refused one is not sent');
    t.equal(last.value('megacomet_queued_messages'), POLLS + MAX_QUEUE);

    // A message that waits for its client's next poll: its wait is what the histogram shows.
    const reply = await app.request({ op: 'send', client: 'later', data: 1 });
    t.equal(reply.ok, true);
    // The reply came after the manager accepted the message: the poll goes out 20 ms after that.
    const acceptedBy = Date.now();
    const late = await RawHttpConnection.open(server.httpPort, t);
    await waitFor('20 ms to pass', () => Date.now() - acceptedBy >= 20, { intervalMs: 5 });
    const res = await late.request('GET', '/poll?client=later');
    t.same(pollBody(res).messages, [1]);
    const waited = await scrape(t, server);
    t.equal(waited.value('megacomet_delivery_latency_seconds_count')! - last.value('megacomet_delivery_latency_seconds_count')!, 1);
    const sumMoved = waited.value('megacomet_delivery_latency_seconds_sum')! - last.value('megacomet_delivery_latency_seconds_sum')!;
    t.ok(sumMoved > 0, `the waiting message added its wait to the sum (${(sumMoved * 1000).toFixed(1)} ms)`);
    t.equal(
      waited.value('megacomet_delivery_latency_seconds_bucket', { le: '0.001' }),
      last.value('megacomet_delivery_latency_seconds_bucket', { le: '0.001' }),
      'and not in the first bucket',
    );

    for (const c of conns) c.destroy();
    late.destroy();
  });

  await t.test('the lag of every thread is a small number of seconds', async (t) => {
    const x = await scrape(t, server);
    for (const s of x.families.get('megacomet_event_loop_lag_seconds')!.samples) {
      t.ok(s.value >= 0 && s.value < 60, `thread ${s.labels.thread}: ${s.value} s`);
    }
  });
});

t.test('metrics: off by default, and --metrics-host binds elsewhere', async (t) => {
  const off = await startServer(t, ['--threads', '1']);
  t.notMatch(off.readyLine, /metrics=/, 'no metrics port, and the ready line is unchanged');
  t.equal(off.metricsPort, undefined);

  const other = await startServer(t, ['--threads', '1', '--metrics-port', '0', '--metrics-host', '127.0.0.2']);
  t.match(other.readyLine, / metrics=127\.0\.0\.2:\d+$/);
  const res = await httpGet(t, other.metricsPort!, '/metrics', {}, {}).catch((err: Error) => err);
  t.ok(res instanceof Error, 'not on 127.0.0.1');
  const conn = await RawHttpConnection.open(other.metricsPort!, t, '127.0.0.2');
  const reply = await conn.request('GET', '/metrics');
  t.equal(reply.status, 200, 'on 127.0.0.2');
  conn.destroy();
});
