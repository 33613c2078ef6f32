// `npm run bench`: runs each scenario against MegaComet (--threads 2 and 8), Nchan and the
// baseline with the native load generator, prints the table and writes
// bench/results/<time>.json and <time>.html. See docs/BENCHMARKS.md.
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JsonObject } from './lib/json-fields.js';
import { describeMachine, gitRevision } from './lib/machine.js';
import { ProcessRegistry } from './lib/process-registry.js';
import { ProgressReporter } from './lib/progress-reporter.js';
import { issueGoals } from './lib/goals.js';
import { findNchan, nchanMissingMessage } from './lib/nchan-server.js';
import { type TargetRun, buildRows, formatNumber, formatTable, medianRuns, resultsFileName, writeResults } from './lib/report.js';
import { renderReport } from './lib/report-html.js';
import { type RunnerOptions, RunnerOptionError, USAGE, parseRunnerOptions } from './lib/runner-options.js';
import { type TargetName, serverArgs, serverScript } from './lib/server-process.js';
import { MissingTargetError, chooseTargets } from './lib/targets.js';
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
  let chosen: { targets: TargetName[]; notes: string[] };
  try {
    chosen = chooseTargets(options, findNchan() !== null, nchanMissingMessage());
  } catch (e) {
    if (e instanceof MissingTargetError) fail(e.message, 2);
    throw e;
  }
  const { targets, notes } = chosen;
  for (const note of notes) process.stderr.write(`bench: ${note}\n`);
  for (const target of targets) {
    const script = serverScript(repoRoot, target);
    if (script !== null && !existsSync(script)) {
      process.stderr.write(`bench: warning: ${script} does not exist; its scenarios will fail (use --target baseline to bench the baseline alone)\n`);
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
  // Every run of every repeat, in order; `runs` in the results are their medians.
  const allRuns: TargetRun[] = [];
  const outPath = options.out !== null ? resolve(options.out) : join(repoRoot, 'bench', 'results', resultsFileName(startedAt));
  const htmlPath = outPath.replace(/\.json$/, '') + '.html';
  const command = process.argv.length > 2 ? `npm run bench -- ${process.argv.slice(2).join(' ')}` : 'npm run bench';
  const remainingSeconds = (): number => options.maxSeconds - (Date.now() - started) / 1000;

  const git = gitRevision(repoRoot);
  const results = (aborted: string | null): JsonObject => {
    const runs = medianRuns(allRuns);
    const rows = buildRows(runs);
    return {
      format: 'megacomet-bench/2',
      started_at: startedAt.toISOString(),
      finished_at: new Date().toISOString(),
      command,
      git: { ...git },
      machine_at_start: { ...machineAtStart },
      machine_at_end: { ...describeMachine() },
      options: { ...options },
      targets,
      notes,
      server_flags: Object.fromEntries(options.scenarios.map((s) => [s, Object.fromEntries(targets.map((t) => [t, serverArgs(t, settingsOf(SCENARIOS[s], options.threads)).join(' ')]))])),
      scenarios: Object.fromEntries(options.scenarios.map((s) => [s, SCENARIOS[s].description])),
      aborted,
      goals: issueGoals(rows).map((g) => ({ ...g })),
      table: rows.map((r) => ({ ...r })),
      runs: runs.map((r) => ({ ...r, figures: r.figures.map((f) => ({ ...f })) })),
    };
  };
  const writeAll = (aborted: string | null): void => {
    writeResults(outPath, results(aborted));
    writeFileSync(htmlPath, renderReport({
      startedAt: startedAt.toISOString(), command, commit: git.commit, dirty: git.dirty, cores: machineAtStart.cores, cpuModel: machineAtStart.cpuModel,
      loadAtStart: machineAtStart.loadAverage, loadAtEnd: describeMachine().loadAverage, targets, runs: medianRuns(allRuns), aborted, notes,
    }));
  };

  // The hard limit: every process we started is killed by PID, what was measured is written.
  const limit = setTimeout(() => {
    progress.print(`hard limit of ${options.maxSeconds} s reached: killing ${registry.running} processes`);
    registry.killAll();
    writeAll(`hard limit of ${options.maxSeconds} s reached`);
    process.stdout.write(formatTable(medianRuns(allRuns), targets));
    process.stderr.write(`bench: stopped by --max-seconds ${options.maxSeconds}; partial results in ${outPath} and ${htmlPath}\n`);
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

  progress.print(`bench: ${options.scenarios.join(', ')} on ${targets.join(', ')} (MegaComet --threads ${options.threads}, megacomet-t8 --threads 8)${options.repeat > 1 ? `, ${options.repeat} repeats` : ''}; hard limit ${options.maxSeconds} s`);
  progress.print(`machine: ${machineAtStart.cores} cores, load average ${machineAtStart.loadAverage.join(' ')} (other work on the machine skews every figure)`);
  for (let repeat = 1; repeat <= options.repeat; repeat++) {
    for (const scenarioName of options.scenarios) {
      const scenario = SCENARIOS[scenarioName];
      // idle's readings are already medians of samples, and it takes the longest: once.
      if (repeat > 1 && scenarioName === 'idle') continue;
      for (const target of targets) {
        const why = scenario.unsupported?.[target];
        if (why !== undefined) {
          if (repeat === 1) progress.print(`${target} ${scenarioName}: skipped: ${why}`);
          continue;
        }
        const ctx: ScenarioContext = { repoRoot, loadgen, target, options, registry, progress, remainingSeconds };
        const round = options.repeat > 1 && scenarioName !== 'idle' ? ` (run ${repeat}/${options.repeat})` : '';
        progress.print(`${target} ${scenarioName}${round}: ${scenario.description}`);
        progress.watch(() => `${target} ${scenarioName}: starting`);
        const t0 = Date.now();
        try {
          const { error, ...result } = await scenario.run(ctx);
          allRuns.push({ scenario: scenarioName, target, ok: error === undefined, error: error ?? null, seconds: (Date.now() - t0) / 1000, ...result });
          if (error === undefined) progress.print(`${target} ${scenarioName}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
          else progress.print(`${target} ${scenarioName}: FAILED after ${result.figures.length} figures: ${error}`);
        } catch (e) {
          const message = e instanceof Error ? e.message : String(e);
          allRuns.push({ scenario: scenarioName, target, ok: false, error: message, seconds: (Date.now() - t0) / 1000, figures: [], details: {} });
          progress.print(`${target} ${scenarioName}: FAILED: ${message}`);
          // Whatever that scenario left running must not disturb the next one.
          registry.killAll();
        }
      }
    }
  }
  progress.stop();
  clearTimeout(limit);
  const runs = medianRuns(allRuns);
  process.stdout.write('\n' + formatTable(runs, targets));
  const goals = issueGoals(buildRows(runs)).filter((g) => g.met !== null);
  if (goals.length > 0) {
    process.stdout.write('\nissue 10 goals:\n');
    for (const g of goals) process.stdout.write(`  ${g.met ? 'met    ' : 'NOT met'}  ${g.goal}: ${g.compared} = ${formatNumber(g.value)} (${g.bound})\n`);
  }
  writeAll(null);
  process.stdout.write(`\nresults: ${outPath}\nreport:  ${htmlPath}\n`);
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
