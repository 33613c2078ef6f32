// Plain inline-SVG charts for the bench's HTML report: grouped bars (linear or log scale),
// stacked bars and lines. No library and no script: the page opens anywhere, offline.

export interface Series {
  name: string;
  /** One value per group (null: not measured, nothing drawn). */
  values: ReadonlyArray<number | null>;
}

export interface BarChart {
  title: string;
  unit: string;
  groups: readonly string[];
  series: readonly Series[];
  /** Log scale for figures spanning decades (latency from 0.1 ms to seconds). */
  log?: boolean;
}

export interface StackedBars {
  title: string;
  unit: string;
  /** One bar per label. */
  bars: readonly string[];
  /** The layers, bottom first; values[i] belongs to bars[i]. */
  layers: readonly Series[];
}

export interface LineChart {
  title: string;
  xUnit: string;
  unit: string;
  lines: ReadonlyArray<{ name: string; points: ReadonlyArray<[number, number]> }>;
}

/** A color per name, stable for a name across every chart of the page. */
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

export class Colors {
  private readonly given = new Map<string, string>();
  /** `preset` picks a color for the names it knows (undefined: the next palette color). */
  constructor(private readonly preset: (name: string) => string | undefined = () => undefined) {}
  of(name: string): string {
    let c = this.given.get(name);
    if (c === undefined) {
      c = this.preset(name) ?? PALETTE[this.given.size % PALETTE.length] ?? '#000';
      this.given.set(name, c);
    }
    return c;
  }
}

/** Thread roles: the main/manager thread blue, workers warm shades, helpers grey, nginx's worker green. */
const WORKER_SHADES = ['#ff7f0e', '#d62728', '#e377c2', '#8c564b', '#bcbd22', '#9467bd', '#f7b6d2', '#c49c94'];

export function roleColor(role: string): string | undefined {
  if (role === 'manager (main)' || role === 'main' || role === 'nginx master') return '#1f77b4';
  if (role === 'nginx worker') return '#2ca02c';
  if (role === 'helpers') return '#9a9a9a';
  const w = /^worker (\d+)$/.exec(role);
  return w?.[1] === undefined ? undefined : WORKER_SHADES[Number(w[1]) % WORKER_SHADES.length];
}

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** A short label for an axis tick or a bar: 0.12, 4.5, 61, 1.2k, 3.4M. */
export function shortNumber(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  if (a >= 100) return v.toFixed(0);
  if (a === 0) return '0';
  return String(+v.toPrecision(2));
}

/** Axis bounds and ticks: log scale in decades, linear in 1-2-5 steps from 0. */
export function axis(max: number, min: number, log: boolean): { lo: number; hi: number; ticks: number[] } {
  if (log) {
    const lo = Math.pow(10, Math.floor(Math.log10(Math.max(min, 1e-9))));
    const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(max, lo * 10))));
    const ticks: number[] = [];
    for (let t = lo; t <= hi * 1.0001; t *= 10) ticks.push(t);
    return { lo, hi, ticks };
  }
  const top = max > 0 ? max : 1;
  const raw = top / 5;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const hi = Math.ceil(top / step) * step;
  const ticks: number[] = [];
  for (let t = 0; t <= hi + step / 2; t += step) ticks.push(+t.toPrecision(12));
  return { lo: 0, hi, ticks };
}

const W = 760;
const H = 300;
const LEFT = 64;
const RIGHT = 16;
const TOP = 34;
const BOTTOM = 54;

function frame(title: string, unit: string, body: string, legend: ReadonlyArray<{ name: string; color: string }>): string {
  const items = legend.map((l, i) => {
    const x = LEFT + (i % 5) * 136;
    const y = H - 14 + Math.floor(i / 5) * 14;
    return `<rect x="${x}" y="${y - 9}" width="10" height="10" fill="${l.color}"/><text x="${x + 14}" y="${y}" font-size="11">${escapeXml(l.name)}</text>`;
  });
  const height = H + Math.max(0, Math.ceil(legend.length / 5) - 1) * 14;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" role="img" aria-label="${escapeXml(title)}">` +
    `<text x="${LEFT}" y="18" font-size="14" font-weight="bold">${escapeXml(title)}</text>` +
    `<text x="8" y="${TOP - 6}" font-size="11" fill="#555">${escapeXml(unit)}</text>${body}${items.join('')}</svg>`;
}

function yAxis(ax: { lo: number; hi: number; ticks: number[] }, y: (v: number) => number): string {
  return ax.ticks.map((t) => `<line x1="${LEFT}" x2="${W - RIGHT}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#ddd"/>` +
    `<text x="${LEFT - 6}" y="${(y(t) + 4).toFixed(1)}" font-size="11" text-anchor="end">${shortNumber(t)}</text>`).join('');
}

function scale(ax: { lo: number; hi: number }, log: boolean): (v: number) => number {
  const plotH = H - TOP - BOTTOM;
  return log
    ? (v) => TOP + plotH * (1 - (Math.log10(Math.max(v, ax.lo)) - Math.log10(ax.lo)) / (Math.log10(ax.hi) - Math.log10(ax.lo)))
    : (v) => TOP + plotH * (1 - (v - ax.lo) / (ax.hi - ax.lo));
}

export function barChart(c: BarChart, colors: Colors): string {
  const all = c.series.flatMap((s) => s.values).filter((v): v is number => v !== null && Number.isFinite(v) && (!c.log || v > 0));
  if (all.length === 0) return `<p class="empty">${escapeXml(c.title)}: nothing measured.</p>`;
  const log = c.log === true;
  const ax = axis(Math.max(...all), Math.min(...all), log);
  const y = scale(ax, log);
  const groupW = (W - LEFT - RIGHT) / Math.max(1, c.groups.length);
  const barW = Math.max(2, (groupW * 0.8) / Math.max(1, c.series.length));
  let body = yAxis(ax, y);
  c.groups.forEach((g, gi) => {
    const x0 = LEFT + gi * groupW + groupW * 0.1;
    body += `<text x="${(LEFT + (gi + 0.5) * groupW).toFixed(1)}" y="${H - BOTTOM + 16}" font-size="11" text-anchor="middle">${escapeXml(g)}</text>`;
    c.series.forEach((s, si) => {
      const v = s.values[gi];
      if (v === null || v === undefined || !Number.isFinite(v) || (log && v <= 0)) return;
      const top = y(v);
      const base = y(ax.lo);
      const x = x0 + si * barW;
      body += `<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${(barW - 1).toFixed(1)}" height="${Math.max(0.5, base - top).toFixed(1)}" fill="${colors.of(s.name)}"><title>${escapeXml(`${s.name}, ${g}: ${shortNumber(v)} ${c.unit}`)}</title></rect>`;
      if (barW >= 14) body += `<text x="${(x + barW / 2).toFixed(1)}" y="${(top - 3).toFixed(1)}" font-size="9" text-anchor="middle">${shortNumber(v)}</text>`;
    });
  });
  return frame(c.title, c.unit, body, c.series.map((s) => ({ name: s.name, color: colors.of(s.name) })));
}

export function stackedBars(c: StackedBars, colors: Colors): string {
  const totals = c.bars.map((_, i) => c.layers.reduce((a, l) => a + Math.max(0, l.values[i] ?? 0), 0));
  if (totals.every((t) => t === 0)) return `<p class="empty">${escapeXml(c.title)}: nothing measured.</p>`;
  const ax = axis(Math.max(...totals), 0, false);
  const y = scale(ax, false);
  const barSlot = (W - LEFT - RIGHT) / Math.max(1, c.bars.length);
  let body = yAxis(ax, y);
  c.bars.forEach((label, i) => {
    const x = LEFT + i * barSlot + barSlot * 0.15;
    let acc = 0;
    for (const l of c.layers) {
      const v = Math.max(0, l.values[i] ?? 0);
      if (v === 0) continue;
      const top = y(acc + v);
      const bottom = y(acc);
      body += `<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${(barSlot * 0.7).toFixed(1)}" height="${Math.max(0.5, bottom - top).toFixed(1)}" fill="${colors.of(l.name)}"><title>${escapeXml(`${label}, ${l.name}: ${shortNumber(v)} ${c.unit}`)}</title></rect>`;
      acc += v;
    }
    body += `<text x="${(x + barSlot * 0.35).toFixed(1)}" y="${(y(acc) - 3).toFixed(1)}" font-size="9" text-anchor="middle">${shortNumber(acc)}</text>`;
    // Labels are "target\\nscenario": two lines under the bar.
    label.split('\n').forEach((part, k) => {
      body += `<text x="${(x + barSlot * 0.35).toFixed(1)}" y="${H - BOTTOM + 14 + k * 12}" font-size="10" text-anchor="middle">${escapeXml(part)}</text>`;
    });
  });
  return frame(c.title, c.unit, body, c.layers.map((l) => ({ name: l.name, color: colors.of(l.name) })));
}

export function lineChart(c: LineChart, colors: Colors): string {
  const pts = c.lines.flatMap((l) => l.points);
  if (pts.length === 0) return `<p class="empty">${escapeXml(c.title)}: nothing measured.</p>`;
  const ys = pts.map((p) => p[1]);
  const minY = Math.min(0, ...ys);
  const ax = axis(Math.max(...ys) - minY, 0, false);
  const yr = scale({ lo: 0, hi: ax.hi }, false);
  const y = (v: number): number => yr(v - minY);
  const xs = pts.map((p) => p[0]);
  const xMax = Math.max(...xs) * 1.05 || 1;
  const x = (v: number): number => LEFT + ((W - LEFT - RIGHT) * v) / xMax;
  let body = ax.ticks.map((t) => `<line x1="${LEFT}" x2="${W - RIGHT}" y1="${y(t + minY).toFixed(1)}" y2="${y(t + minY).toFixed(1)}" stroke="#ddd"/><text x="${LEFT - 6}" y="${(y(t + minY) + 4).toFixed(1)}" font-size="11" text-anchor="end">${shortNumber(t + minY)}</text>`).join('');
  for (const xv of [...new Set(xs)].sort((a, b) => a - b)) {
    body += `<text x="${x(xv).toFixed(1)}" y="${H - BOTTOM + 16}" font-size="11" text-anchor="middle">${shortNumber(xv)}</text>`;
  }
  body += `<text x="${W - RIGHT}" y="${H - BOTTOM + 30}" font-size="11" text-anchor="end" fill="#555">${escapeXml(c.xUnit)}</text>`;
  for (const l of c.lines) {
    const sorted = [...l.points].sort((a, b) => a[0] - b[0]);
    const d = sorted.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ');
    body += `<path d="${d}" fill="none" stroke="${colors.of(l.name)}" stroke-width="2"/>`;
    for (const p of sorted) body += `<circle cx="${x(p[0]).toFixed(1)}" cy="${y(p[1]).toFixed(1)}" r="3" fill="${colors.of(l.name)}"><title>${escapeXml(`${l.name} @${p[0]}: ${shortNumber(p[1])} ${c.unit}`)}</title></circle>`;
  }
  return frame(c.title, c.unit, body, c.lines.map((l) => ({ name: l.name, color: colors.of(l.name) })));
}
