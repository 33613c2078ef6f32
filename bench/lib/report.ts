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
        row = { scenario: run.scenario, name: f.name, unit: f.unit, better: f.better, target: f.target ?? null, values: {}, ratio: null };
        byKey.set(key, row);
        rows.push(row);
      }
      row.values[run.target] = f.value;
    }
  }
  for (const row of rows) {
    const m = row.values.megacomet;
    const b = row.values.baseline;
    row.ratio = m !== undefined && m !== null && b !== undefined && b !== null && b !== 0 ? m / b : null;
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

function formatRatio(r: number | null): string {
  if (r === null) return '-';
  return r >= 10 ? `${r.toFixed(0)}x` : `${r.toFixed(2)}x`;
}

/** A plain-text table; failed runs are listed under it with their errors. */
export function formatTable(runs: readonly TargetRun[], targets: readonly TargetName[]): string {
  const rows = buildRows(runs);
  const header = ['scenario', 'figure', 'unit', ...targets, ...(targets.length > 1 ? ['ratio m/b'] : []), 'better', 'target'];
  const body = rows.map((r) => [
    r.scenario, r.name, r.unit, ...targets.map((t) => formatNumber(r.values[t])), ...(targets.length > 1 ? [formatRatio(r.ratio)] : []),
    r.better === 'none' ? '' : r.better, r.target ?? '',
  ]);
  const all = [header, ...body];
  const widths = header.map((_, i) => Math.max(...all.map((line) => (line[i] ?? '').length)));
  const numeric = new Set(header.map((h, i) => (targets.includes(h as TargetName) || h === 'ratio m/b' ? i : -1)));
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
