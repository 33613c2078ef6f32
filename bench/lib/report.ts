// The bench's output: the table on stdout and the results file under bench/results/.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Figure } from '../scenarios/scenario.js';
import type { JsonObject } from './json-fields.js';
import type { ScenarioName } from './runner-options.js';
import type { TargetName } from './server-process.js';

export interface TargetRun {
  scenario: ScenarioName;
  target: TargetName;
  ok: boolean;
  error: string | null;
  seconds: number;
  figures: Figure[];
  details: JsonObject;
  /** How many runs the figures are the median of (1: a single run). */
  repeats?: number;
}

/** The ratios the table shows, numerator / denominator, where both targets ran. */
export const RATIOS: ReadonlyArray<{ label: string; of: TargetName; to: TargetName }> = [
  { label: 'm/nchan', of: 'megacomet', to: 'nchan' },
  { label: 'm/base', of: 'megacomet', to: 'baseline' },
  { label: 't8/t2', of: 'megacomet-t8', to: 'megacomet' },
];

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const v = [...values].sort((a, b) => a - b);
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? (v[mid] ?? null) : ((v[mid - 1] ?? 0) + (v[mid] ?? 0)) / 2;
}

/**
 * One run per (scenario, target) from the repeats of each: every figure the median of the
 * repeats that measured it; ok only if every repeat was; details of each repeat kept in order.
 */
export function medianRuns(runs: readonly TargetRun[]): TargetRun[] {
  const groups = new Map<string, TargetRun[]>();
  for (const r of runs) {
    const key = `${r.scenario}\u0000${r.target}`;
    const g = groups.get(key) ?? [];
    g.push(r);
    groups.set(key, g);
  }
  const out: TargetRun[] = [];
  for (const group of groups.values()) {
    const first = group[0];
    if (first === undefined) continue;
    if (group.length === 1) {
      out.push({ ...first, repeats: 1 });
      continue;
    }
    const figures: Figure[] = [];
    const seen = new Set<string>();
    for (const r of group) {
      for (const f of r.figures) {
        if (seen.has(f.name)) continue;
        seen.add(f.name);
        const values = group.map((g) => g.figures.find((x) => x.name === f.name)?.value).filter((v): v is number => typeof v === 'number');
        figures.push({ ...f, value: median(values) });
      }
    }
    const errors = group.filter((r) => !r.ok).map((r) => r.error ?? 'unknown error');
    out.push({
      scenario: first.scenario,
      target: first.target,
      ok: errors.length === 0,
      error: errors.length === 0 ? null : errors.join('; '),
      seconds: group.reduce((a, r) => a + r.seconds, 0),
      figures,
      details: { repeats: group.map((r) => ({ ok: r.ok, error: r.error, seconds: r.seconds, figures: r.figures.map((f) => ({ name: f.name, value: f.value })), details: r.details })) },
      repeats: group.length,
    });
  }
  return out;
}

export interface Row {
  scenario: ScenarioName;
  name: string;
  unit: string;
  better: Figure['better'];
  target: string | null;
  values: Partial<Record<TargetName, number | null>>;
  /** megacomet / baseline, when both exist and the baseline is not 0. */
  ratio: number | null;
  /** Every ratio of RATIOS whose two values exist (denominator not 0), by label. */
  ratios: Record<string, number | null>;
}

function ratioOf(a: number | null | undefined, b: number | null | undefined): number | null {
  return a !== undefined && a !== null && b !== undefined && b !== null && b !== 0 ? a / b : null;
}

/** One row per figure name, in the order the scenarios produced them, with every target's value. */
export function buildRows(runs: readonly TargetRun[]): Row[] {
  const rows: Row[] = [];
  const byKey = new Map<string, Row>();
  for (const run of runs) {
    for (const f of run.figures) {
      const key = `${run.scenario}\u0000${f.name}`;
      let row = byKey.get(key);
      if (row === undefined) {
        row = { scenario: run.scenario, name: f.name, unit: f.unit, better: f.better, target: f.target ?? null, values: {}, ratio: null, ratios: {} };
        byKey.set(key, row);
        rows.push(row);
      }
      row.values[run.target] = f.value;
    }
  }
  for (const row of rows) {
    row.ratio = ratioOf(row.values.megacomet, row.values.baseline);
    for (const r of RATIOS) row.ratios[r.label] = ratioOf(row.values[r.of], row.values[r.to]);
  }
  return rows;
}

export function formatNumber(v: number | null | undefined): string {
  if (v === undefined) return '-';
  if (v === null) return 'n/a';
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100 || Number.isInteger(v)) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toPrecision(3).replace(/\.?0+$/, '') || '0';
}

export function formatRatio(r: number | null): string {
  if (r === null) return '-';
  return r >= 10 ? `${r.toFixed(0)}x` : `${r.toFixed(2)}x`;
}

/** A plain-text table; failed runs are listed under it with their errors. */
/** The ratios whose two targets are both in `targets`. */
export function ratiosFor(targets: readonly TargetName[]): typeof RATIOS {
  return RATIOS.filter((r) => targets.includes(r.of) && targets.includes(r.to));
}

export function formatTable(runs: readonly TargetRun[], targets: readonly TargetName[]): string {
  const rows = buildRows(runs);
  const ratios = ratiosFor(targets);
  const header = ['scenario', 'figure', 'unit', ...targets, ...ratios.map((r) => r.label), 'better', 'target'];
  const body = rows.map((r) => [
    r.scenario, r.name, r.unit, ...targets.map((t) => formatNumber(r.values[t])), ...ratios.map((x) => formatRatio(r.ratios[x.label] ?? null)),
    r.better === 'none' ? '' : r.better, r.target ?? '',
  ]);
  const all = [header, ...body];
  const widths = header.map((_, i) => Math.max(...all.map((line) => (line[i] ?? '').length)));
  const numeric = new Set(header.map((h, i) => (targets.includes(h as TargetName) || ratios.some((r) => r.label === h) ? i : -1)));
  const render = (line: string[]): string => line.map((cell, i) => (numeric.has(i) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  const out = [render(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(render)];
  for (const run of runs) {
    if (!run.ok) out.push(`! ${run.target} ${run.scenario} failed: ${run.error ?? 'unknown error'}`);
  }
  return out.join('\n') + '\n';
}

/** "2026-11-26T10-00-00Z": a file name that sorts by time and has no ':'. */
export function resultsFileName(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-') + '.json';
}

export function writeResults(path: string, results: JsonObject): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(results, null, 2) + '\n');
}
