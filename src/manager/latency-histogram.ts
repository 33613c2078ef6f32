// A latency histogram kept as counts in a typed array, for the accept-to-delivery
// latency the manager observes once per message that goes out in a delivery
// body (tens of thousands a second). An observation is a few compares and two
// additions: no object, no label lookup, no string (prom-client's
// Histogram.observe builds a label object and hashes it on every call; see
// docs/OPERATIONS.md, Metrics, for the measured difference). The metrics
// endpoint reads the counts at scrape time and writes them in Prometheus's
// cumulative form (src/metrics/metrics.ts).

/** Upper bounds of the buckets, in seconds (the +Inf bucket is implied). */
export const DELIVERY_LATENCY_BUCKETS_S: readonly number[] = Object.freeze([
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
]);

/** What a scrape reads: cumulative counts per upper bound (the last one is +Inf), their sum and count. */
export interface HistogramSnapshot {
  /** Upper bounds in seconds, ascending, then Infinity. */
  readonly bounds: readonly number[];
  /** Observations <= each bound (cumulative), aligned with `bounds`. */
  readonly cumulative: readonly number[];
  /** Sum of every observation, in seconds. */
  readonly sumSeconds: number;
  readonly count: number;
}

export class LatencyHistogram {
  /** Upper bounds in ms, ascending. */
  private readonly boundsMs: Float64Array;
  private readonly boundsS: readonly number[];
  /** Observations per bucket (not cumulative); the last one is +Inf. Doubles: exact up to 2^53. */
  private readonly counts: Float64Array;
  private sumMs = 0;
  private total = 0;

  constructor(boundsSeconds: readonly number[] = DELIVERY_LATENCY_BUCKETS_S) {
    for (let i = 0; i < boundsSeconds.length; i++) {
      const b = boundsSeconds[i]!;
      if (!(b > 0 && Number.isFinite(b)) || (i > 0 && !(b > boundsSeconds[i - 1]!))) {
        throw new RangeError(`histogram bounds must be positive, finite and ascending, got ${JSON.stringify(boundsSeconds)}`);
      }
    }
    this.boundsS = Object.freeze([...boundsSeconds]);
    this.boundsMs = Float64Array.from(boundsSeconds, (s) => s * 1000);
    this.counts = new Float64Array(boundsSeconds.length + 1);
  }

  /** Records one latency of `ms` milliseconds (below 0, as from a clock set back, counts as 0). */
  observe(ms: number): void {
    if (!(ms > 0)) ms = 0;
    const bounds = this.boundsMs;
    const n = bounds.length;
    let i = 0;
    // Most deliveries go to a held poll at once (0 ms): the first compare ends the loop.
    while (i < n && ms > bounds[i]!) i++;
    this.counts[i]!++;
    this.sumMs += ms;
    this.total++;
  }

  /** Observations so far. */
  get count(): number {
    return this.total;
  }

  snapshot(): HistogramSnapshot {
    const cumulative: number[] = [];
    let acc = 0;
    for (let i = 0; i < this.counts.length; i++) {
      acc += this.counts[i]!;
      cumulative.push(acc);
    }
    return { bounds: [...this.boundsS, Infinity], cumulative, sumSeconds: this.sumMs / 1000, count: this.total };
  }
}
