// The loadgen's log-linear histogram (bench/loadgen/histogram.h), merged across processes.
// index_of/lowest_of here must stay identical to the C++ ones: processes report bucket indices.
import { type JsonObject, numberField } from './json-fields.js';

const SUB_BITS = 6;
const SUB_COUNT = 1 << SUB_BITS;

function lowestOf(index: number): number {
  if (index < 2 * SUB_COUNT) return index;
  const shift = Math.floor(index / SUB_COUNT) - 1;
  return ((index % SUB_COUNT) + SUB_COUNT) * 2 ** shift;
}

function highestOf(index: number): number {
  if (index < 2 * SUB_COUNT) return index;
  const shift = Math.floor(index / SUB_COUNT) - 1;
  return lowestOf(index) + 2 ** shift - 1;
}

/** Nanosecond values; percentiles are the upper bound of their bucket (at most 1.6% high), capped at max. */
export class Histogram {
  private readonly counts = new Map<number, number>();
  count = 0;
  min = Infinity;
  max = 0;

  /** Adds a histogram as the loadgen prints it: {"count","min","max","buckets":[[i,c],...]}. */
  addJson(h: JsonObject, where: string): void {
    const count = numberField(h, 'count', where);
    if (count === 0) return;
    this.count += count;
    this.min = Math.min(this.min, numberField(h, 'min', where));
    this.max = Math.max(this.max, numberField(h, 'max', where));
    const buckets = h['buckets'];
    if (!Array.isArray(buckets)) throw new Error(`${where}: "buckets" is not an array`);
    for (const b of buckets) {
      if (!Array.isArray(b) || typeof b[0] !== 'number' || typeof b[1] !== 'number') {
        throw new Error(`${where}: a bucket is not [index, count]`);
      }
      this.counts.set(b[0], (this.counts.get(b[0]) ?? 0) + b[1]);
    }
  }

  /** Adds every value of `other` (another generator's, or another node's clients). */
  merge(other: Histogram): void {
    if (other.count === 0) return;
    this.count += other.count;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
    for (const [index, n] of other.counts) this.counts.set(index, (this.counts.get(index) ?? 0) + n);
  }

  /** p in (0, 100]; null when empty. */
  percentile(p: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (const index of [...this.counts.keys()].sort((a, b) => a - b)) {
      seen += this.counts.get(index) ?? 0;
      if (seen >= rank) return Math.min(highestOf(index), this.max);
    }
    return this.max;
  }

  /** p50/p99/p99.9/max in milliseconds (null when empty), for tables and the JSON file. */
  summaryMs(): LatencySummary {
    const ms = (ns: number | null): number | null => (ns === null ? null : ns / 1e6);
    return {
      count: this.count,
      p50: ms(this.percentile(50)),
      p99: ms(this.percentile(99)),
      p999: ms(this.percentile(99.9)),
      max: this.count === 0 ? null : this.max / 1e6,
    };
  }
}

export interface LatencySummary {
  count: number;
  p50: number | null;
  p99: number | null;
  p999: number | null;
  max: number | null;
}
