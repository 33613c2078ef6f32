// Issue 10's goals as numbers from one run's table: each goal, the figures it compares and
// whether it is met. The HTML report and the printed summary both show this list.
import type { Row } from './report.js';
import type { TargetName } from './server-process.js';

export interface GoalCheck {
  goal: string;
  /** What is compared, e.g. "megacomet 53 us / nchan 37 us". */
  compared: string;
  /** The ratio or value judged. */
  value: number | null;
  /** The bound, in words: "<= 0.7". */
  bound: string;
  /** null: a figure is missing (a target did not run). */
  met: boolean | null;
}

function value(rows: readonly Row[], scenario: string, name: string, target: TargetName): number | null {
  const v = rows.find((r) => r.scenario === scenario && r.name === name)?.values[target];
  return v === undefined ? null : v;
}

function fmt(v: number | null, unit: string): string {
  if (v === null) return 'n/a';
  const s = Number.isInteger(v) ? String(v) : Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toPrecision(3);
  return `${s}${unit === '' ? '' : ' ' + unit}`;
}

function ratioCheck(goal: string, rows: readonly Row[], scenario: string, name: string, unit: string, of: TargetName, to: TargetName, bound: number, atMost: boolean): GoalCheck {
  const a = value(rows, scenario, name, of);
  const b = value(rows, scenario, name, to);
  const r = a !== null && b !== null && b !== 0 ? a / b : null;
  return {
    goal,
    compared: `${of} ${fmt(a, unit)} / ${to} ${fmt(b, unit)}`,
    value: r,
    bound: `${atMost ? '<=' : '>='} ${bound}`,
    met: r === null ? null : atMost ? r <= bound : r >= bound,
  };
}

function boundCheck(goal: string, rows: readonly Row[], scenario: string, name: string, unit: string, target: TargetName, bound: number, strict: boolean): GoalCheck {
  const v = value(rows, scenario, name, target);
  return { goal, compared: `${target} ${fmt(v, unit)}`, value: v, bound: `${strict ? '<' : '<='} ${bound} ${unit}`, met: v === null ? null : strict ? v < bound : v <= bound };
}

/** Every check of issue 10's goals that the rows allow (missing figures give met = null). */
export function issueGoals(rows: readonly Row[]): GoalCheck[] {
  const cpu = 'server CPU per delivered msg';
  const out: GoalCheck[] = [];
  for (const rate of [20_000, 5000]) {
    out.push(ratioCheck(`${rate}/s: server CPU per message vs Nchan`, rows, 'latency', `${rate}/s: ${cpu}`, 'us', 'megacomet', 'nchan', 0.7, true));
    out.push(ratioCheck(`${rate}/s: p99 latency vs Nchan`, rows, 'latency', `${rate}/s: latency p99`, 'ms', 'megacomet', 'nchan', 1, true));
  }
  out.push(boundCheck('20000/s: p99 latency', rows, 'latency', '20000/s: latency p99', 'ms', 'megacomet', 5, false));
  out.push(ratioCheck('max rate: delivered msgs/s vs Nchan (moonshot 3x)', rows, 'throughput', 'delivered msgs/s', 'msg/s', 'megacomet', 'nchan', 2.5, false));
  for (const t of ['megacomet', 'megacomet-t8'] as const) {
    const lost = value(rows, 'throughput', 'lost', t);
    const dup = value(rows, 'throughput', 'duplicated', t);
    out.push({ goal: `max rate: nothing lost or duplicated (${t})`, compared: `lost ${fmt(lost, '')}, duplicated ${fmt(dup, '')}`, value: lost === null || dup === null ? null : lost + dup, bound: '= 0', met: lost === null || dup === null ? null : lost + dup === 0 });
  }
  out.push(ratioCheck('--threads 8 vs 2: delivered msgs/s at max rate', rows, 'throughput', 'delivered msgs/s', 'msg/s', 'megacomet-t8', 'megacomet', 0.9, false));
  out.push(ratioCheck('--threads 8 vs 2: server CPU per message at 20000/s', rows, 'latency', `20000/s: ${cpu}`, 'us', 'megacomet-t8', 'megacomet', 1.1, true));
  out.push(ratioCheck('--threads 8 vs 2: p99 latency at 20000/s', rows, 'latency', '20000/s: latency p99', 'ms', 'megacomet-t8', 'megacomet', 1.1, true));
  out.push(boundCheck('100/s: p99 latency', rows, 'latency', '100/s: latency p99', 'ms', 'megacomet', 1, true));
  return out;
}
