// The HTML page each `npm run bench` writes beside its JSON file: the goals of issue 10, plots
// (latency percentiles per target and rate, CPU per message by thread, wake-ups, memory per
// held poll against the number of polls) and every figure in one table. One self-contained
// file: inline SVG and CSS, no script, nothing fetched.
import { type GoalCheck, issueGoals } from './goals.js';
import type { JsonObject } from './json-fields.js';
import { type Row, type TargetRun, buildRows, formatNumber, formatRatio, median, ratiosFor } from './report.js';
import type { TargetName } from './server-process.js';
import { Colors, type Series, barChart, escapeXml, lineChart, roleColor, stackedBars } from './svg-charts.js';

export interface ReportInput {
  startedAt: string;
  command: string;
  commit: string;
  dirty: boolean | null;
  cores: number;
  cpuModel: string;
  loadAtStart: readonly number[];
  loadAtEnd: readonly number[];
  targets: readonly TargetName[];
  /** One run per (scenario, target): medians when --repeat > 1. */
  runs: readonly TargetRun[];
  aborted: string | null;
  /** Targets left out and why (Nchan not installed...). */
  notes: readonly string[];
}

export interface ThreadRow {
  role: string;
  cpuUs: number | null;
  wakeups: number | null;
}

/** The delivery phases a run has: throughput's one ("max rate") and latency's one per rate. */
export function phasesOf(run: TargetRun): Array<{ label: string; key: string | null }> {
  if (run.scenario === 'throughput') return [{ label: 'max rate', key: null }];
  if (run.scenario !== 'latency') return [];
  const rates = new Set<number>();
  for (const f of run.figures) {
    const m = /^(\d+)\/s: /.exec(f.name);
    if (m?.[1] !== undefined) rates.add(Number(m[1]));
  }
  return [...rates].map((r) => ({ label: `${r}/s`, key: `rate_${r}` }));
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function rowsAt(details: JsonObject, key: string | null): ThreadRow[] {
  const holder = key === null ? details : details[key];
  if (!isObject(holder)) return [];
  const list = holder['threads'];
  if (!Array.isArray(list)) return [];
  const out: ThreadRow[] = [];
  for (const r of list) {
    if (!isObject(r) || typeof r['role'] !== 'string') continue;
    const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);
    out.push({ role: r['role'], cpuUs: num(r['cpuUs']), wakeups: num(r['wakeups']) });
  }
  return out;
}

/**
 * CPU us and wake-ups per message of each thread role in one phase of a run; with repeats, the
 * median per role over the repeats that measured it.
 */
export function threadRows(run: TargetRun, key: string | null): ThreadRow[] {
  const repeats = run.details['repeats'];
  if (!Array.isArray(repeats)) return rowsAt(run.details, key);
  const all = repeats.filter(isObject).map((r) => (isObject(r['details']) ? rowsAt(r['details'], key) : []));
  const roles: string[] = [];
  for (const rows of all) for (const r of rows) if (!roles.includes(r.role)) roles.push(r.role);
  return roles.map((role) => {
    const pick = (k: 'cpuUs' | 'wakeups'): number | null => median(all.map((rows) => rows.find((r) => r.role === role)?.[k]).filter((v): v is number => typeof v === 'number'));
    return { role, cpuUs: pick('cpuUs'), wakeups: pick('wakeups') };
  });
}

function figure(rows: readonly Row[], scenario: string, name: string, target: TargetName): number | null {
  return rows.find((r) => r.scenario === scenario && r.name === name)?.values[target] ?? null;
}

function latencyCharts(rows: readonly Row[], targets: readonly TargetName[], colors: Colors): string {
  const phases: Array<{ label: string; scenario: string; prefix: string }> = [];
  if (rows.some((r) => r.scenario === 'throughput')) phases.push({ label: 'max rate', scenario: 'throughput', prefix: '' });
  const rates = [...new Set(rows.filter((r) => r.scenario === 'latency').map((r) => /^(\d+)\/s: /.exec(r.name)?.[1]).filter((v): v is string => v !== undefined))];
  for (const r of rates) phases.push({ label: `${r}/s`, scenario: 'latency', prefix: `${r}/s: ` });
  if (phases.length === 0) return '';
  return ['p50', 'p99', 'max'].map((p) => barChart({
    title: `Latency ${p}, send to receipt (log scale)`,
    unit: 'ms',
    log: true,
    groups: phases.map((ph) => ph.label),
    series: targets.map((t): Series => ({ name: t, values: phases.map((ph) => figure(rows, ph.scenario, `${ph.prefix}latency ${p}`, t)) })),
  }, colors)).join('\n');
}

function threadCharts(runs: readonly TargetRun[], targets: readonly TargetName[], colors: Colors): string {
  const bars: Array<{ label: string; rows: ThreadRow[] }> = [];
  const phaseLabels: string[] = [];
  for (const scenario of ['throughput', 'latency'] as const) {
    for (const t of targets) {
      const run = runs.find((r) => r.scenario === scenario && r.target === t);
      if (run === undefined) continue;
      for (const ph of phasesOf(run)) {
        if (!phaseLabels.includes(ph.label)) phaseLabels.push(ph.label);
        bars.push({ label: `${t}\n${ph.label}`, rows: threadRows(run, ph.key).filter((r) => r.role !== 'total') });
      }
    }
  }
  if (bars.length === 0) return '';
  const out: string[] = [];
  for (const phase of phaseLabels) {
    const chosen = bars.filter((b) => b.label.endsWith(`\n${phase}`));
    const roles: string[] = [];
    for (const b of chosen) for (const r of b.rows) if (!roles.includes(r.role)) roles.push(r.role);
    const layers = roles.map((role): Series => ({ name: role, values: chosen.map((b) => b.rows.find((r) => r.role === role)?.cpuUs ?? null) }));
    out.push(stackedBars({ title: `Server CPU per delivered message by thread, ${phase}`, unit: 'us/msg', bars: chosen.map((b) => b.label), layers }, new Colors(roleColor)));
  }
  out.push(barChart({
    title: 'Server thread wake-ups (voluntary context switches) per delivered message',
    unit: 'per msg',
    groups: phaseLabels,
    series: targets.map((t): Series => ({
      name: t,
      values: phaseLabels.map((ph) => {
        const b = bars.find((x) => x.label === `${t}\n${ph}`);
        const total = b === undefined ? undefined : threadRowsTotal(b.rows);
        return total ?? null;
      }),
    })),
  }, colors));
  return out.join('\n');
}

function threadRowsTotal(rows: readonly ThreadRow[]): number | null {
  const values = rows.map((r) => r.wakeups).filter((v): v is number => v !== null);
  return values.length === 0 ? null : values.reduce((a, b) => a + b, 0);
}

function memoryChart(rows: readonly Row[], targets: readonly TargetName[], colors: Colors): string {
  const lines = targets.map((t) => ({
    name: t,
    points: rows
      .filter((r) => r.scenario === 'idle' && /^user bytes per held poll @\d+$/.test(r.name))
      .map((r): [number, number | null | undefined] => [Number(r.name.split('@')[1]), r.values[t]])
      .filter((p): p is [number, number] => typeof p[1] === 'number'),
  })).filter((l) => l.points.length > 0);
  if (lines.length === 0) return '<p class="empty">The idle scenario did not run: no memory plot.</p>';
  return lineChart({ title: 'User-space memory per held poll (RSS growth from the warm baseline / polls)', xUnit: 'held polls', unit: 'bytes/poll', lines }, colors);
}

function goalsTable(goals: readonly GoalCheck[]): string {
  const cells = goals.map((g) => {
    const verdict = g.met === null ? '<td class="na">not measured</td>' : g.met ? '<td class="ok">met</td>' : '<td class="bad">not met</td>';
    return `<tr><td>${escapeXml(g.goal)}</td><td>${escapeXml(g.compared)}</td><td class="num">${g.value === null ? 'n/a' : escapeXml(formatNumber(g.value))}</td><td>${escapeXml(g.bound)}</td>${verdict}</tr>`;
  });
  return `<table><thead><tr><th>goal (issue 10)</th><th>compared</th><th>value</th><th>bound</th><th></th></tr></thead><tbody>${cells.join('')}</tbody></table>`;
}

function figuresTable(rows: readonly Row[], targets: readonly TargetName[]): string {
  const ratios = ratiosFor(targets);
  const head = ['scenario', 'figure', 'unit', ...targets, ...ratios.map((r) => r.label), 'better', 'target'];
  const body = rows.map((r) => `<tr><td>${escapeXml(r.scenario)}</td><td>${escapeXml(r.name)}</td><td>${escapeXml(r.unit)}</td>` +
    targets.map((t) => `<td class="num">${escapeXml(formatNumber(r.values[t]))}</td>`).join('') +
    ratios.map((x) => `<td class="num">${escapeXml(formatRatio(r.ratios[x.label] ?? null))}</td>`).join('') +
    `<td>${r.better === 'none' ? '' : r.better}</td><td>${escapeXml(r.target ?? '')}</td></tr>`);
  return `<table><thead><tr>${head.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr></thead><tbody>${body.join('')}</tbody></table>`;
}

export function renderReport(input: ReportInput): string {
  const rows = buildRows(input.runs);
  const colors = new Colors();
  for (const t of input.targets) colors.of(t);
  const failed = input.runs.filter((r) => !r.ok).map((r) => `<li>${escapeXml(`${r.target} ${r.scenario}: ${r.error ?? 'failed'}`)}</li>`);
  const repeats = Math.max(1, ...input.runs.map((r) => r.repeats ?? 1));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MegaComet bench ${escapeXml(input.startedAt)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1100px; }
table { border-collapse: collapse; margin: 8px 0 24px; font-size: 12px; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.ok { color: #176d17; font-weight: bold; } td.bad { color: #b01818; font-weight: bold; } td.na { color: #888; }
svg { display: block; margin: 8px 0 20px; } .empty { color: #888; } code { background: #f3f3f3; padding: 1px 4px; }
</style></head><body>
<h1>MegaComet bench</h1>
<p>Started ${escapeXml(input.startedAt)} · commit <code>${escapeXml(input.commit)}</code>${input.dirty ? ' (with uncommitted changes)' : ''}<br>
Command: <code>${escapeXml(input.command)}</code><br>
Machine: ${input.cores} cores, ${escapeXml(input.cpuModel)}; load average at start ${escapeXml(input.loadAtStart.join(' '))}, at end ${escapeXml(input.loadAtEnd.join(' '))} (other work on the machine skews every figure)<br>
${repeats > 1 ? `Each figure is the median of ${repeats} runs, targets interleaved.` : 'One run of each scenario per target.'}</p>
${input.aborted === null ? '' : `<p class="bad">Aborted: ${escapeXml(input.aborted)}</p>`}
${input.notes.length === 0 ? '' : `<ul>${input.notes.map((n) => `<li>${escapeXml(n)}</li>`).join('')}</ul>`}
${failed.length === 0 ? '' : `<h2>Failed runs</h2><ul>${failed.join('')}</ul>`}
<h2>Issue 10 goals</h2>
${goalsTable(issueGoals(rows))}
<h2>Latency per target and rate</h2>
${latencyCharts(rows, input.targets, colors)}
<h2>CPU and wake-ups per message, by thread</h2>
<p>From /proc/PID/task/*/schedstat and status around each delivery phase (first send to last receipt). MegaComet: the manager is the main thread, worker i its i-th worker thread, helpers V8's and libuv's threads lumped; Nchan: nginx's master and its one worker.</p>
${threadCharts(input.runs, input.targets, colors)}
<h2>Memory per held poll</h2>
${memoryChart(rows, input.targets, colors)}
<h2>Every figure</h2>
${figuresTable(rows, input.targets)}
</body></html>
`;
}
