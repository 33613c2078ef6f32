// The bench's own logic that needs no server: /proc parsing and thread roles, medians of
// repeats, ratios, issue 10's goal checks, the runner's flags, the nginx template, and the
// HTML report (self-contained, every plot present, text escaped).
import { readFileSync } from 'node:fs';
import t from 'tap';
import { issueGoals } from '../bench/lib/goals.js';
import { fillTemplate, parseStubStatus } from '../bench/lib/nchan-server.js';
import { type TargetRun, buildRows, formatTable, median, medianRuns } from '../bench/lib/report.js';
import { phasesOf, renderReport, threadRows } from '../bench/lib/report-html.js';
import { RunnerOptionError, parseRunnerOptions } from '../bench/lib/runner-options.js';
import { axis, escapeXml, shortNumber } from '../bench/lib/svg-charts.js';
import { MissingTargetError, chooseTargets } from '../bench/lib/targets.js';
import { type ThreadSample, parseSchedstat, parseTaskStat, parseTaskStatus, perMessage, phaseUsage, threadRoles } from '../bench/lib/thread-usage.js';
import type { Figure } from '../bench/scenarios/scenario.js';

t.test('/proc task files: stat (a name with spaces and parentheses), status, schedstat', async (t) => {
  const stat = '4242 (V8 (Default) W) S 1 2 3 0 -1 4194560 10 0 0 0 150 25 0 0 20 0 1 0 999 1000 100 18446744073709551615';
  t.same(parseTaskStat(stat), { comm: 'V8 (Default) W', cpuSeconds: 1.75 }, 'utime 150 + stime 25 ticks');
  t.throws(() => parseTaskStat('garbage'), /not a \/proc stat line/);
  t.same(parseTaskStatus('Name:\tnode\nvoluntary_ctxt_switches:\t12\nnonvoluntary_ctxt_switches:\t3\n'), { voluntary: 12, involuntary: 3 });
  t.throws(() => parseTaskStatus('Name:\tnode\n'), /ctxt_switches/);
  t.equal(parseSchedstat('138256748 41579858 413\n'), 0.138256748);
  t.throws(() => parseSchedstat(''), /schedstat/);
});

t.test('thread roles: MegaComet names manager and workers only when every loop is seen', async (t) => {
  // main 100; the platform scheduler loop 101; workers 120, 121; 105 is a libuv pool thread.
  const roles = threadRoles('megacomet', [100], [100, 101, 120, 121], 2);
  t.same([...roles.entries()].sort((a, b) => a[0] - b[0]), [[100, 'manager (main)'], [120, 'worker 0'], [121, 'worker 1']]);
  const partial = threadRoles('megacomet', [100], [100, 101, 121], 2);
  t.same([...partial.values()], ['manager (main)'], 'a worker busy at the look: workers left unnamed, not misnamed');
  t.same([...threadRoles('baseline', [7], [7, 8], null).entries()], [[7, 'main']]);
  t.same([...threadRoles('nchan', [10, 11], [], null).entries()], [[10, 'nginx master'], [11, 'nginx worker']]);
});

t.test('phase usage: per role differences, new threads from zero, helpers lumped, per message', async (t) => {
  const s = (tid: number, cpu: number, vol: number): ThreadSample => ({ pid: 1, tid, comm: 'node', cpuSeconds: cpu, voluntary: vol, involuntary: 0 });
  const roles = new Map([[1, 'manager (main)'], [3, 'worker 1'], [2, 'worker 0']]);
  const before = [s(1, 1, 10), s(2, 2, 20), s(3, 3, 30), s(4, 0.5, 5)];
  const after = [s(1, 1.5, 110), s(2, 2.25, 70), s(3, 3.25, 80), s(4, 0.6, 6), s(5, 0.1, 4)];
  const u = phaseUsage(before, after, roles);
  t.same(u.byRole.map((r) => r.role), ['manager (main)', 'worker 0', 'worker 1', 'helpers'], 'stable order');
  const helpers = u.byRole.find((r) => r.role === 'helpers');
  t.equal(helpers?.threads, 2, 'two helper threads, one born during the phase');
  t.ok(Math.abs((helpers?.cpuSeconds ?? 0) - 0.2) < 1e-9, 'helpers: 0.1 + 0.1 s');
  t.equal(u.total.voluntary, 100 + 50 + 50 + 1 + 4);
  const per = perMessage(u, 1000);
  t.same(per.map((r) => r.role), ['manager (main)', 'worker 0', 'worker 1', 'helpers', 'total']);
  t.ok(Math.abs((per[0]?.cpuUs ?? 0) - 500) < 1e-6, '0.5 s over 1000 messages = 500 us each');
  t.equal(per[0]?.wakeups, 0.1);
  t.equal(perMessage(u, 0)[0]?.cpuUs, null, 'no messages: no per-message figure');
});

const fig = (name: string, value: number | null, unit = 'ms'): Figure => ({ name, unit, better: 'lower', value });
const run = (scenario: TargetRun['scenario'], target: TargetRun['target'], figures: Figure[], details: Record<string, unknown> = {}): TargetRun =>
  ({ scenario, target, ok: true, error: null, seconds: 1, figures, details });

t.test('repeats: each figure the median, failures kept, details of every repeat', async (t) => {
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 2, 3]), 2.5);
  t.equal(median([]), null);
  const runs = [
    run('throughput', 'megacomet', [fig('latency p99', 5), fig('lost', 0)]),
    run('throughput', 'nchan', [fig('latency p99', 4)]),
    run('throughput', 'megacomet', [fig('latency p99', 9), fig('lost', 0)]),
    { ...run('throughput', 'megacomet', [fig('latency p99', 6), fig('lost', null)]), ok: false, error: 'boom' },
  ];
  const m = medianRuns(runs);
  t.equal(m.length, 2);
  const mc = m.find((r) => r.target === 'megacomet');
  t.equal(mc?.repeats, 3);
  t.equal(mc?.figures.find((f) => f.name === 'latency p99')?.value, 6);
  t.equal(mc?.figures.find((f) => f.name === 'lost')?.value, 0, 'null (not measured) left out of the median');
  t.equal(mc?.ok, false);
  t.match(mc?.error, /boom/);
  t.equal((mc?.details['repeats'] as unknown[]).length, 3);
  t.equal(m.find((r) => r.target === 'nchan')?.repeats, 1);
});

t.test('rows: ratios to Nchan, to the baseline and --threads 8 to 2; the table shows the ones that ran', async (t) => {
  const rows = buildRows([
    run('throughput', 'megacomet', [fig('delivered msgs/s', 60_000, 'msg/s')]),
    run('throughput', 'megacomet-t8', [fig('delivered msgs/s', 45_000, 'msg/s')]),
    run('throughput', 'nchan', [fig('delivered msgs/s', 30_000, 'msg/s')]),
    run('throughput', 'baseline', [fig('delivered msgs/s', 0, 'msg/s')]),
  ]);
  t.equal(rows[0]?.ratios['m/nchan'], 2);
  t.equal(rows[0]?.ratios['t8/t2'], 0.75);
  t.equal(rows[0]?.ratios['m/base'], null, 'a zero denominator gives no ratio');
  const table = formatTable([run('throughput', 'megacomet', [fig('x', 1)]), run('throughput', 'nchan', [fig('x', 2)])], ['megacomet', 'nchan']);
  t.match(table, /m\/nchan/);
  t.notMatch(table, /m\/base|t8\/t2/);
});

function goalRuns(): TargetRun[] {
  const lat = (target: TargetRun['target'], cpu20: number, p99_20: number, cpu5: number, p99_5: number, p99_100: number): TargetRun => run('latency', target, [
    fig('20000/s: server CPU per delivered msg', cpu20, 'us'), fig('20000/s: latency p99', p99_20),
    fig('5000/s: server CPU per delivered msg', cpu5, 'us'), fig('5000/s: latency p99', p99_5), fig('100/s: latency p99', p99_100),
  ], { rate_20000: { threads: [{ role: 'manager (main)', threads: 1, cpuUs: cpu20 / 2, wakeups: 1 }, { role: 'worker 0', threads: 1, cpuUs: cpu20 / 2, wakeups: 0.5 }] } });
  const thr = (target: TargetRun['target'], rate: number): TargetRun => run('throughput', target, [fig('delivered msgs/s', rate, 'msg/s'), fig('lost', 0, 'msgs'), fig('duplicated', 0, 'msgs'), fig('latency p50', 20), fig('latency p99', 60), fig('latency max', 90)],
    { threads: [{ role: 'manager (main)', threads: 1, cpuUs: 5, wakeups: 0.1 }, { role: 'helpers', threads: 9, cpuUs: 1, wakeups: 0.01 }] });
  return [
    thr('megacomet', 80_000), thr('megacomet-t8', 75_000), thr('nchan', 30_000),
    lat('megacomet', 20, 3, 25, 4, 0.5), lat('megacomet-t8', 21, 3.1, 26, 4, 0.6), lat('nchan', 37, 4.2, 40, 5, 0.4),
    run('idle', 'megacomet', [fig('user bytes per held poll @1000', 300, 'B'), fig('user bytes per held poll @5000', 150, 'B')]),
    run('idle', 'nchan', [fig('user bytes per held poll @1000', 900, 'B')]),
  ];
}

t.test('issue 10 goals, each check', async (t) => {
  const goals = issueGoals(buildRows(goalRuns()));
  const by = (text: string) => goals.find((g) => g.goal === text);
  t.ok(Math.abs((by('20000/s: server CPU per message vs Nchan')?.value ?? 0) - 20 / 37) < 1e-9);
  t.equal(by('5000/s: server CPU per message vs Nchan')?.met, true, '25 / 40 = 0.625 <= 0.7');
  t.equal(by('5000/s: p99 latency vs Nchan')?.met, true, '4 <= 5');
  t.equal(by('20000/s: p99 latency')?.met, true, '3 ms <= 5');
  t.equal(by('max rate: delivered msgs/s vs Nchan (moonshot 3x)')?.met, true, '80k / 30k = 2.67');
  t.equal(by('--threads 8 vs 2: delivered msgs/s at max rate')?.met, true, '75 / 80 = 0.94');
  t.equal(by('100/s: p99 latency')?.met, true);
  t.equal(by('max rate: nothing lost or duplicated (megacomet)')?.met, true);
  const none = issueGoals(buildRows([run('throughput', 'megacomet', [fig('delivered msgs/s', 1, 'msg/s')])]));
  t.equal(none.find((g) => g.goal.startsWith('max rate: delivered'))?.met, null, 'no Nchan: not judged');
});

t.test('HTML report: self-contained, the goals, every plot, escaped text', async (t) => {
  const runs = medianRuns(goalRuns());
  const html = renderReport({
    startedAt: '2026-12-02T00:00:00.000Z', command: 'npm run bench -- --target <all>', commit: 'abc123', dirty: false, cores: 2, cpuModel: 'cpu & co',
    loadAtStart: [0.5, 0.4, 0.3], loadAtEnd: [1, 1, 1], targets: ['megacomet', 'megacomet-t8', 'nchan'], runs, aborted: null, notes: ['baseline left out'],
  });
  t.match(html, /^<!doctype html>/);
  t.notMatch(html, /<script|<link|src=|href=/i, 'no script, stylesheet, image or link to fetch');
  t.notMatch(html, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/, 'no address but the SVG namespace');
  t.match(html, /--target &lt;all&gt;/, 'the command is escaped');
  t.match(html, /cpu &amp; co/);
  t.match(html, /Issue 10 goals/);
  t.match(html, /20000\/s: server CPU per message vs Nchan/);
  t.match(html, /class="ok">met/);
  for (const title of ['Latency p50', 'Latency p99', 'Latency max', 'Server CPU per delivered message by thread, max rate', 'Server CPU per delivered message by thread, 20000/s', 'wake-ups', 'User-space memory per held poll']) {
    t.match(html, new RegExp(title.replace(/[()/]/g, '.')), `plot: ${title}`);
  }
  t.equal((html.match(/<svg /g) ?? []).length, 3 + 2 + 1 + 1, 'three latency plots, two CPU-by-thread plots, wake-ups, memory');
  t.match(html, /manager \(main\), 20000\/s|megacomet, 20000\/s|manager \(main\): 10 us\/msg/, 'bars carry their values');
  const bare = renderReport({ startedAt: 'x', command: 'c', commit: 'c', dirty: null, cores: 1, cpuModel: 'm', loadAtStart: [], loadAtEnd: [], targets: ['megacomet'], runs: [], aborted: 'hard limit', notes: [] });
  t.match(bare, /Aborted: hard limit/);
  t.match(bare, /no memory plot/);
});

t.test('thread rows of a phase, medians over repeats', async (t) => {
  const r = (cpu: number): TargetRun => run('latency', 'megacomet', [fig('20000/s: latency p99', 1)], { rate_20000: { threads: [{ role: 'worker 0', threads: 1, cpuUs: cpu, wakeups: 1 }] } });
  t.same(phasesOf(r(1)), [{ label: '20000/s', key: 'rate_20000' }]);
  t.same(threadRows(r(4), 'rate_20000'), [{ role: 'worker 0', cpuUs: 4, wakeups: 1 }]);
  const [merged] = medianRuns([r(1), r(9), r(5)]);
  t.same(merged === undefined ? [] : threadRows(merged, 'rate_20000'), [{ role: 'worker 0', cpuUs: 5, wakeups: 1 }]);
  t.same(threadRows(run('throughput', 'nchan', []), null), [], 'no thread figures: nothing');
});

t.test('charts: axes, numbers, escaping', async (t) => {
  const log = axis(61, 0.12, true);
  t.equal(log.lo, 0.1);
  t.equal(log.hi, 100);
  t.equal(log.ticks.length, 4);
  const lin = axis(37, 0, false);
  t.equal(lin.lo, 0);
  t.ok(lin.hi >= 37 && lin.hi <= 50, `linear top ${lin.hi}`);
  t.same(lin.ticks.slice(0, 3), [0, 10, 20]);
  t.equal(shortNumber(60_903), '60.9k');
  t.equal(shortNumber(0.123), '0.12');
  t.equal(shortNumber(2_500_000), '2.5M');
  t.equal(escapeXml(`<a b="c">'&`), '&lt;a b=&quot;c&quot;&gt;&#39;&amp;');
});

t.test('runner flags: target lists, rates, repeats', async (t) => {
  const d = parseRunnerOptions([]);
  t.same(d.targets, ['megacomet', 'megacomet-t8', 'nchan', 'baseline']);
  t.equal(d.targetsGiven, false);
  t.equal(d.repeat, 1);
  t.equal(d.rates, null);
  const o = parseRunnerOptions(['--target', 'nchan,megacomet', '--rate', '20000,5000,100', '--repeat', '3']);
  t.same(o.targets, ['megacomet', 'nchan'], 'in the standard order');
  t.equal(o.targetsGiven, true);
  t.same(o.rates, [20_000, 5000, 100]);
  t.equal(o.rate, 20_000, 'churn and fanout take the first rate');
  t.equal(o.repeat, 3);
  t.same(parseRunnerOptions(['--target', 'both']).targets, ['megacomet', 'baseline']);
  const refused = (argv: string[], message: RegExp): void => {
    try {
      parseRunnerOptions(argv);
      t.fail(`${argv.join(' ')} was accepted`);
    } catch (e) {
      t.ok(e instanceof RunnerOptionError, `${argv.join(' ')}: a RunnerOptionError`);
      t.match((e as Error).message, message);
    }
  };
  refused(['--target', 'redis'], /unknown target "redis"/);
  refused(['--repeat', '0'], /--repeat expects a positive integer/);
  refused(['--rate', '100,x'], /--rate expects/);
});

t.test('nginx template: every field filled, a missing one refused; stub status read', async (t) => {
  const template = readFileSync(new URL('../bench/nchan/nginx.conf.template', import.meta.url), 'utf8');
  const fields = { MODULE: '/m.so', DIR: '/tmp/x', FILES: 20000, CONNECTIONS: 19900, SHM: '512m', PORT: 18000, POLL_TIMEOUT: 120, TTL: 60, MAX_QUEUE: 1000, REDIS_UPSTREAM: '', REDIS_PASS: '' };
  const conf = fillTemplate(template, fields);
  t.notMatch(conf, /\{\{/, 'nothing left unfilled');
  t.match(conf, /listen 127\.0\.0\.1:18000/, 'loopback only');
  t.notMatch(conf, /listen (?!127\.0\.0\.1)/, 'no other listen address');
  t.match(conf, /worker_processes 1;/);
  t.match(conf, /nchan_subscriber longpoll;/);
  t.match(conf, /nchan_subscriber_timeout 120s;/);
  t.match(conf, /nchan_message_buffer_length 1000;/);
  t.match(conf, /pid \/tmp\/x\/nginx\.pid;/);
  const directives = conf.split('\n').filter((line) => !line.trim().startsWith('#')).join('\n');
  t.notMatch(directives, /nchan_redis/, 'memstore unless the redis scenario asks');
  const shared = fillTemplate(template, { ...fields, REDIS_UPSTREAM: 'upstream r { nchan_redis_server redis://127.0.0.1:6390; }', REDIS_PASS: 'nchan_redis_pass r;' });
  t.match(shared, /http \{[^]*upstream r \{ nchan_redis_server redis:\/\/127\.0\.0\.1:6390; \}[^]*location ~ \^\/sub[^}]*nchan_redis_pass r;[^]*location ~ \^\/pub[^}]*nchan_redis_pass r;/, 'the redis scenario: an upstream in http, its pass in the subscriber and publisher locations');
  t.throws(() => fillTemplate(template, { ...fields, TTL: undefined } as unknown as Record<string, number>), /\{\{TTL\}\}/);
  t.same(parseStubStatus('total published messages: 12\nstored messages: 3\nshared memory used: 16K\nchannels: 2\nsubscribers: 10000\n'),
    { 'total published messages': 12, 'stored messages': 3, 'shared memory used': 16, channels: 2, subscribers: 10000 });
});

t.test('targets: Nchan left out with a note when missing, an error when named', async (t) => {
  const all = parseRunnerOptions([]);
  t.same(chooseTargets(all, true, 'x'), { targets: ['megacomet', 'megacomet-t8', 'nchan', 'baseline'], notes: [] });
  const without = chooseTargets(all, false, 'install it with "apt-get install -y nginx-light libnginx-mod-nchan"');
  t.same(without.targets, ['megacomet', 'megacomet-t8', 'baseline'], 'the run goes on without it');
  t.match(without.notes[0], /^nchan left out: install it with "apt-get install -y nginx-light libnginx-mod-nchan"/);
  try {
    chooseTargets(parseRunnerOptions(['--target', 'nchan,megacomet']), false, 'missing');
    t.fail('a named, missing Nchan was accepted');
  } catch (e) {
    t.ok(e instanceof MissingTargetError, 'a MissingTargetError (the runner exits 2)');
  }
  t.throws(() => chooseTargets(parseRunnerOptions(['--target', 'nchan']), false, 'missing'), /--target nchan: missing/);
  t.same(chooseTargets(parseRunnerOptions(['--target', 'baseline']), false, 'x').notes, [], 'not asked for: no note');
});
