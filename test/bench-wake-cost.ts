// `loadgen wakecost` and the bench's use of it: two threads really hand a token back and forth,
// every hand-off costs a measured amount of CPU, and one measurement per rate serves every target.
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { ProcessRegistry } from '../bench/lib/process-registry.js';
import { wakeCostAt } from '../bench/lib/wake-cost.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const loadgen = join(repoRoot, 'bench', 'out', 'loadgen');

t.before(() => {
  // The generator binary: `npm test` builds only its unit tests.
  execFileSync('make', ['-s', '-C', 'bench/loadgen'], { cwd: repoRoot, stdio: 'inherit' });
});

t.test('back to back: one JSON line, every round trip made, at most two wake-ups each', async (t) => {
  const out = execFileSync(loadgen, ['wakecost', '--messages', '400'], { encoding: 'utf8' });
  const r = JSON.parse(out) as Record<string, number | string>;
  t.equal(r['mode'], 'wakecost');
  t.equal(r['round_trips'], 400);
  const switches = Number(r['voluntary_switches']);
  // A token that arrives before its reader reached epoll_wait costs no sleep, so fewer is possible.
  t.ok(switches > 0 && switches <= 2 * 400 + 5, `voluntary switches ${switches} for 400 round trips`);
  t.ok(Number(r['cpu_seconds']) > 0, 'CPU was spent');
  t.ok(Number(r['cpu_ns_per_wakeup']) > 0, 'CPU per wake-up');
  t.ok(Number(r['handoff_ns']) > 0, 'hand-off time');
});

t.test('paced: the pacing sleeps are wake-ups too, and it takes the time the rate says', async (t) => {
  const r = JSON.parse(execFileSync(loadgen, ['wakecost', '--messages', '100', '--rate', '1000'], { encoding: 'utf8' })) as Record<string, number>;
  t.ok(r['seconds']! >= 0.099, `100 round trips at 1000/s take at least 99 ms (took ${r['seconds']} s)`);
  t.ok(r['voluntary_switches']! <= 3 * 100 + 5, 'at most a pacing sleep and two hand-off sleeps per round trip');
});

t.test('a bad flag is refused with the usage', async (t) => {
  const r = spawnSync(loadgen, ['wakecost', '--rate', 'fast'], { encoding: 'utf8' });
  t.equal(r.status, 2);
  t.match(r.stderr, /--rate/);
  const modes = spawnSync(loadgen, ['nosuchmode'], { encoding: 'utf8' });
  t.match(modes.stderr, /wakecost/, 'the unknown-mode error lists wakecost');
});

t.test('the bench measures once per rate and shares the figure', async (t) => {
  const registry = new ProcessRegistry();
  t.teardown(() => registry.killAll());
  const first = wakeCostAt(loadgen, 2000, registry);
  t.equal(wakeCostAt(loadgen, 2000, registry), first, 'the same measurement for a second target');
  const cost = await first;
  t.equal(cost.rate, 2000);
  t.ok(cost.cpuUsPerWakeup > 0 && cost.cpuUsPerWakeup < 10_000, `${cost.cpuUsPerWakeup} us per wake-up`);
  t.ok(cost.handoffUs > 0, `${cost.handoffUs} us per hand-off`);
});
