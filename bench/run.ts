// `npm run bench`: runs each scenario against MegaComet and the baseline with the native load
// generator, prints the table and writes bench/results/<time>.json. See docs/BENCHMARKS.md.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JsonObject } from './lib/json-fields.js';
import { describeMachine, gitRevision } from './lib/machine.js';
import { ProcessRegistry } from './lib/process-registry.js';
import { ProgressReporter } from './lib/progress-reporter.js';
import { type TargetRun, buildRows, formatTable, resultsFileName, writeResults } from './lib/report.js';
import { type RunnerOptions, RunnerOptionError, USAGE, parseRunnerOptions } from './lib/runner-options.js';
import { serverArgs, serverScript } from './lib/server-process.js';
import { SCENARIOS } from './scenarios/index.js';
import type { ScenarioContext } from './scenarios/scenario.js';
import { settingsOf } from './scenarios/server-settings.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const loadgen = join(repoRoot, 'bench', 'out', 'loadgen');

function fail(message: string, code: number): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(code);
}

async function main(options: RunnerOptions): Promise<number> {
  if (!existsSync(loadgen)) fail(`${loadgen} is missing: build it with "make -C bench/loadgen"`, 1);
  for (const target of options.targets) {
    if (!existsSync(serverScript(repoRoot, target))) {
      process.stderr.write(`bench: warning: ${serverScript(repoRoot, target)} does not exist; its scenarios will fail (use --target baseline to bench the baseline alone)\n`);
    }
  }
  const startedAt = new Date();
  const machineAtStart = describeMachine();
  const fileLimit = Number(machineAtStart.fileLimit);
  if (Number.isFinite(fileLimit) && options.perProcess !== null && options.perProcess > fileLimit - 100) {
    fail(`--per-process ${options.perProcess} needs more files than the open-files limit (${fileLimit}) allows: use at most ${fileLimit - 100}`, 2);
  }
  const started = Date.now();
  const registry = new ProcessRegistry();
  const progress = new ProgressReporter();
  const runs: TargetRun[] = [];
  const outPath = options.out !== null ? resolve(options.out) : join(repoRoot, 'bench', 'results', resultsFileName(startedAt));
  const remainingSeconds = (): number => options.maxSeconds - (Date.now() - started) / 1000;

  const results = (aborted: string | null): JsonObject => ({
    format: 'megacomet-bench/1',
    started_at: startedAt.toISOString(),
    finished_at: new Date().toISOString(),
    command: process.argv.length > 2 ? `npm run bench -- ${process.argv.slice(2).join(' ')}` : 'npm run bench',
    git: { ...gitRevision(repoRoot) },
    machine_at_start: { ...machineAtStart },
    machine_at_end: { ...describeMachine() },
    options: { ...options },
    server_flags: Object.fromEntries(options.scenarios.map((s) => [s, Object.fromEntries(options.targets.map((t) => [t, serverArgs(t, settingsOf(SCENARIOS[s], options.threads)).join(' ')]))])),
    scenarios: Object.fromEntries(options.scenarios.map((s) => [s, SCENARIOS[s].description])),
    aborted,
    table: buildRows(runs).map((r) => ({ ...r })),
    runs: runs.map((r) => ({ ...r, figures: r.figures.map((f) => ({ ...f })) })),
  });

  // The hard limit: every process we started is killed by PID, what was measured is written.
  const limit = setTimeout(() => {
    progress.print(`hard limit of ${options.maxSeconds} s reached: killing ${registry.running} processes`);
    registry.killAll();
    writeResults(outPath, results(`hard limit of ${options.maxSeconds} s reached`));
    process.stdout.write(formatTable(runs, options.targets));
    process.stderr.write(`bench: stopped by --max-seconds ${options.maxSeconds}; partial results in ${outPath}\n`);
    // A moment for the killed children to be reaped before we go.
    setTimeout(() => process.exit(1), 300);
  }, options.maxSeconds * 1000);
  limit.unref();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      registry.killAll();
      process.exit(130);
    });
  }

  progress.print(`bench: ${options.scenarios.join(', ')} on ${options.targets.join(' and ')} (MegaComet --threads ${options.threads}); hard limit ${options.maxSeconds} s`);
  progress.print(`machine: ${machineAtStart.cores} cores, load average ${machineAtStart.loadAverage.join(' ')} (other work on the machine skews every figure)`);
  for (const scenarioName of options.scenarios) {
    const scenario = SCENARIOS[scenarioName];
    for (const target of options.targets) {
      const ctx: ScenarioContext = { repoRoot, loadgen, target, options, registry, progress, remainingSeconds };
      progress.print(`${target} ${scenarioName}: ${scenario.description}`);
      progress.watch(() => `${target} ${scenarioName}: starting`);
      const t0 = Date.now();
      try {
        const { error, ...result } = await scenario.run(ctx);
        runs.push({ scenario: scenarioName, target, ok: error === undefined, error: error ?? null, seconds: (Date.now() - t0) / 1000, ...result });
        if (error === undefined) progress.print(`${target} ${scenarioName}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        else progress.print(`${target} ${scenarioName}: FAILED after ${result.figures.length} figures: ${error}`);
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        runs.push({ scenario: scenarioName, target, ok: false, error: message, seconds: (Date.now() - t0) / 1000, figures: [], details: {} });
        progress.print(`${target} ${scenarioName}: FAILED: ${message}`);
        // Whatever that scenario left running must not disturb the next one.
        registry.killAll();
      }
    }
  }
  progress.stop();
  clearTimeout(limit);
  process.stdout.write('\n' + formatTable(runs, options.targets));
  writeResults(outPath, results(null));
  process.stdout.write(`\nresults: ${outPath}\n`);
  return runs.every((r) => r.ok) ? 0 : 1;
}

let options: RunnerOptions;
try {
  options = parseRunnerOptions(process.argv.slice(2));
} catch (e) {
  if (e instanceof RunnerOptionError) fail(e.message, 2);
  throw e;
}
if (options.help) {
  process.stdout.write(USAGE + '\n');
  process.exit(0);
}
main(options).then(
  (code) => process.exit(code),
  (e: unknown) => fail(e instanceof Error ? (e.stack ?? e.message) : String(e), 1),
);
