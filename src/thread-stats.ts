// Per-worker counters in one SharedArrayBuffer: each worker writes only its
// own row, the manager reads all rows for the `stats` op. No messages, no locks:
// a reader may see a row a few microseconds old, which `stats` allows.
//
//   row i (worker i): [ connections | held_polls | accepted | refused ]   Int32 each

export const STATS_FIELDS = { connections: 0, heldPolls: 1, accepted: 2, refused: 3 } as const;
const FIELDS_PER_ROW = 4;

export function createThreadStats(threads: number): SharedArrayBuffer {
  return new SharedArrayBuffer(threads * FIELDS_PER_ROW * Int32Array.BYTES_PER_ELEMENT);
}

export interface ThreadStatsRow {
  connections: number;
  held_polls: number;
  connections_accepted: number;
  connections_refused: number;
}

export class ThreadStatsWriter {
  private readonly cells: Int32Array;
  constructor(sab: SharedArrayBuffer, private readonly row: number) {
    this.cells = new Int32Array(sab);
  }
  set(field: number, value: number): void {
    // Atomics.store makes the value visible to the manager thread's Atomics.load.
    Atomics.store(this.cells, this.row * FIELDS_PER_ROW + field, value);
  }
}

export function readThreadStats(sab: SharedArrayBuffer): ThreadStatsRow[] {
  const cells = new Int32Array(sab);
  const rows: ThreadStatsRow[] = [];
  for (let base = 0; base < cells.length; base += FIELDS_PER_ROW) {
    rows.push({
      connections: Atomics.load(cells, base + STATS_FIELDS.connections),
      held_polls: Atomics.load(cells, base + STATS_FIELDS.heldPolls),
      connections_accepted: Atomics.load(cells, base + STATS_FIELDS.accepted),
      connections_refused: Atomics.load(cells, base + STATS_FIELDS.refused),
    });
  }
  return rows;
}
