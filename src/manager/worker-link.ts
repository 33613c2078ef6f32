// The manager's way to one worker over its ring: DELIVER records, written in
// batches.
//
// Deliveries are held back until the end of the current task (a microtask):
// one app read or one ring drain makes hundreds of them, and writing them
// together means a worker that sleeps between batches is woken once per batch
// (one Atomics.notify, one wakeup of its loop) instead of once per record
// whenever it drains faster than we write. The records keep their order, and
// nothing waits longer than the task that produced it.

import { deliverRecordCapacity, encodeDeliver } from '../ring/records.js';
import type { WorkerLink } from './manager.js';
import { log } from '../log.js';

/** The writing side of a ring, as src/ring/ring.ts's RingWriter offers it. */
export interface RecordWriter {
  write(bytes: Uint8Array, length: number): void;
}

/** One encode buffer for every link of the thread: records are encoded one at a time, each copied into its ring at once. */
let scratch = Buffer.alloc(64 * 1024);

export class BatchedWorkerLink implements WorkerLink {
  private readonly ring: RecordWriter;
  /** Deliveries not yet written: handle, body, handle, body, ... */
  private pending: Array<number | string> = [];
  private scheduled = false;
  private readonly flushBound = (): void => this.flush();

  constructor(ring: RecordWriter) {
    this.ring = ring;
  }

  deliver(handle: number, body: string): void {
    this.pending.push(handle, body);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flushBound);
    }
  }

  /** Writes every held-back delivery now, in order (the microtask does this by itself). */
  flush(): void {
    this.scheduled = false;
    const pending = this.pending;
    if (pending.length === 0) return;
    this.pending = [];
    let failure: unknown = null;
    for (let i = 0; i < pending.length; i += 2) {
      const body = pending[i + 1] as string;
      const need = deliverRecordCapacity(body);
      if (need > scratch.length) scratch = Buffer.alloc(Math.max(need, scratch.length * 2));
      // One record that cannot be written (a ring closed at shutdown) must not cost the others theirs.
      try {
        this.ring.write(scratch, encodeDeliver(scratch, pending[i] as number, body));
      } catch (err) {
        failure ??= err;
      }
    }
    // Thrown from a microtask this would end the process; the messages are
    // still queued in the manager, so the client gets them on its next poll.
    if (failure !== null) log(`a delivery could not be written to its worker's ring: ${(failure as Error).message}`);
  }
}
