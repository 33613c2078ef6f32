// Per-worker counters in one SharedArrayBuffer: each worker writes only its
// own row, the manager reads every row for the `stats` op. No messages, no
// locks. A row is written as one snapshot under a sequence counter (a
// seqlock), so a reader never mixes two publications: a row's held polls are
// never above its connections, because both come from one engine.stats().
//
//   row i (worker i): [ seq | connections | held_polls | accepted | refused | lag_us ]   Int32 each
//
// lag_us is the worker's event-loop lag (src/threads/loop-lag.ts) in microseconds,
// measured only while metrics are on (0 otherwise).
//
// seq is odd while the worker writes the row and even when it is complete.

import type { ThreadCounters } from '../protocol/stats.js';

const SEQ = 0;
const CONNECTIONS = 1;
const HELD_POLLS = 2;
const ACCEPTED = 3;
const REFUSED = 4;
const LAG_US = 5;
const FIELDS_PER_ROW = 6;
/** Reader spins this often on a row being written before it waits a little: a write is six stores. */
const SPINS_BEFORE_WAIT = 64;

export function createThreadStats(threads: number): SharedArrayBuffer {
  return new SharedArrayBuffer(threads * FIELDS_PER_ROW * Int32Array.BYTES_PER_ELEMENT);
}

/** What a worker publishes: one engine.stats() snapshot. */
export interface ThreadSnapshot {
  readonly connections: number;
  readonly held: number;
  readonly accepted: number;
  readonly refused: number;
}

/** A worker's row as the main thread reads it: the counters, and what only the metrics use. */
export interface ThreadRow extends ThreadCounters {
  /** The worker's largest event-loop lag in the last 10 s, in microseconds (0 while metrics are off). */
  readonly event_loop_lag_us: number;
}

export class ThreadStatsWriter {
  private readonly cells: Int32Array;
  private readonly base: number;

  constructor(sab: SharedArrayBuffer, row: number) {
    this.cells = new Int32Array(sab);
    this.base = row * FIELDS_PER_ROW;
  }

  /** `lagMs`: the worker's event-loop lag (LoopLag.maxMs()), 0 when not measured. */
  publish(s: ThreadSnapshot, lagMs = 0): void {
    const c = this.cells;
    const b = this.base;
    // Odd seq tells a reader that the row is being written: it retries.
    Atomics.add(c, b + SEQ, 1);
    Atomics.store(c, b + CONNECTIONS, s.connections);
    Atomics.store(c, b + HELD_POLLS, s.held);
    Atomics.store(c, b + ACCEPTED, s.accepted);
    Atomics.store(c, b + REFUSED, s.refused);
    Atomics.store(c, b + LAG_US, Math.min(0x7fffffff, Math.round(lagMs * 1000)));
    // Even again: the values above are one snapshot, visible together.
    Atomics.add(c, b + SEQ, 1);
  }
}

/** Every worker's row, each a consistent snapshot. */
export function readThreadStats(sab: SharedArrayBuffer): ThreadRow[] {
  const cells = new Int32Array(sab);
  const rows: ThreadRow[] = [];
  for (let base = 0; base < cells.length; base += FIELDS_PER_ROW) rows.push(readRow(cells, base));
  return rows;
}

function readRow(cells: Int32Array, base: number): ThreadRow {
  for (let attempt = 0; ; attempt++) {
    const before = Atomics.load(cells, base + SEQ);
    if ((before & 1) === 0) {
      const row: ThreadRow = {
        connections: Atomics.load(cells, base + CONNECTIONS),
        held_polls: Atomics.load(cells, base + HELD_POLLS),
        connections_accepted: Atomics.load(cells, base + ACCEPTED),
        connections_refused: Atomics.load(cells, base + REFUSED),
        event_loop_lag_us: Atomics.load(cells, base + LAG_US),
      };
      if (Atomics.load(cells, base + SEQ) === before) return row;
    }
    // The writer was preempted mid-row (rare): give it a moment rather than spin a core.
    if (attempt >= SPINS_BEFORE_WAIT) Atomics.wait(cells, base + SEQ, Atomics.load(cells, base + SEQ), 1);
  }
}
