// The manager's end of its two rings to one worker: the only place the
// manager encodes DELIVER/RELEASE records and decodes POLL/GONE records
// (layout in src/ring/records.ts). A POLL's client id is handed over as the
// bytes in the ring, not as a string: the client table hashes and compares
// them where they lie, so a record makes no garbage.
//
// Deliveries are held back until the end of the current task (a microtask):
// one app read or one ring drain makes hundreds of them, and writing them
// together means a worker that sleeps between batches is woken once per batch
// (one Atomics.notify, one wakeup of its loop) instead of once per record
// whenever it drains faster than we write. The records keep their order, and
// nothing waits longer than the task that produced it.

import { RingReader, RingWriter, type RecordHandler } from '../ring/ring.js';
import { bellOf, watcherOf, type RingDoorbells } from '../ring/doorbell.js';
import { HANDLE_RECORD_BYTES, PollMode, RECORD_OFFSET, RecordType, deliverRecordCapacity } from '../ring/records.js';
import { log } from '../log.js';
import type { InboundSource } from './poll-intake.js';

/** What the manager tells one worker (a ring in production, a fake in tests). */
export interface WorkerPort {
  /** Answer the held poll `handle` with this complete poll body. */
  deliver(handle: number, body: string): void;
  /** Answer the held poll `handle` empty, with the cursor it asked with (the worker has it). */
  release(handle: number): void;
  /** Writes the deliveries held back until the end of the task now (a port that holds none back needs no flush). */
  flush?(): void;
}

/** What the manager does with one worker's records. */
export interface WorkerRecordHandler {
  /** A POLL (`stream`: of an event stream): the client id is the ASCII bytes `bytes[start, start + length)`, valid only during the call. */
  onPollBytes(worker: number, handle: number, since: number, bytes: Uint8Array, start: number, length: number, stream: boolean): void;
  onGone(worker: number, handle: number): void;
}

/** The writing side of a ring, as RingWriter offers it. */
export interface RecordWriter {
  write(bytes: Uint8Array, length: number): void;
}

/** One encode buffer for every port of the thread: records are encoded one at a time, each copied into its ring at once. */
let scratch = Buffer.alloc(64 * 1024);

/** DELIVER and RELEASE records to one worker, written in batches at the end of the task. */
export class BatchedDeliveries implements WorkerPort {
  private readonly ring: RecordWriter;
  /** Records not yet written: handle, body, handle, body, ...; a null body is a RELEASE. */
  private pending: Array<number | string | null> = [];
  private scheduled = false;
  private readonly flushBound = (): void => this.flush();

  constructor(ring: RecordWriter) {
    this.ring = ring;
  }

  deliver(handle: number, body: string): void {
    this.pending.push(handle, body);
    this.schedule();
  }

  release(handle: number): void {
    this.pending.push(handle, null);
    this.schedule();
  }

  private schedule(): void {
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
      const handle = pending[i] as number;
      const body = pending[i + 1] as string | null;
      const need = body === null ? HANDLE_RECORD_BYTES : deliverRecordCapacity(body);
      if (need > scratch.length) scratch = Buffer.alloc(Math.max(need, scratch.length * 2));
      // One record that cannot be written (a ring closed at shutdown) must not cost the others theirs.
      try {
        this.ring.write(scratch, body === null ? encodeRelease(scratch, handle) : encodeDeliver(scratch, handle, body));
      } catch (err) {
        failure ??= err;
      }
    }
    // Thrown from a microtask this would end the process; the messages are
    // still queued in the manager, so the client gets them on its next poll.
    if (failure !== null) log(`a delivery could not be written to its worker's ring: ${(failure as Error).message}`);
  }
}

/** Writes a DELIVER record into `out` at 0; returns its length. `out` must hold deliverRecordCapacity(body). */
function encodeDeliver(out: Buffer, handle: number, body: string): number {
  out[RECORD_OFFSET.type] = RecordType.Deliver;
  const bodyLen = out.write(body, RECORD_OFFSET.body, 'utf8');
  out.writeUInt32LE(bodyLen, RECORD_OFFSET.bodyLen);
  out.writeDoubleLE(handle, RECORD_OFFSET.handle);
  return RECORD_OFFSET.body + bodyLen;
}

/** Writes a RELEASE record into `out` at 0; returns its length. */
function encodeRelease(out: Buffer, handle: number): number {
  out.fill(0, 0, RECORD_OFFSET.handle);
  out[RECORD_OFFSET.type] = RecordType.Release;
  out.writeDoubleLE(handle, RECORD_OFFSET.handle);
  return HANDLE_RECORD_BYTES;
}

/** How full one worker's rings are, in bytes (for the metrics; read from the rings' shared words). */
export interface RingOccupancy {
  /** Bytes in use in the ring from the worker: POLL/GONE records the manager has not read yet. */
  readonly toManager: number;
  /** Bytes in use in the ring to the worker: DELIVER/RELEASE records the worker has not read yet. */
  readonly toWorker: number;
  /** Bytes of records to the worker waiting in the manager's overflow list for room in that ring. */
  readonly toWorkerBacklog: number;
  /** Each ring's data area. */
  readonly capacity: number;
}

/** Both rings of one worker, seen from the manager. */
export class RingWorkerPort implements WorkerPort, InboundSource {
  private readonly in: RingReader;
  private readonly out: RingWriter;
  private readonly deliveries: BatchedDeliveries;
  private onRecord: RecordHandler | undefined;

  constructor(
    private readonly worker: number,
    toManager: SharedArrayBuffer,
    fromManager: SharedArrayBuffer,
    /** The fds of the two rings' doorbells (src/ring/doorbell.ts); null: Atomics.waitAsync. */
    doorbells: RingDoorbells | null = null,
  ) {
    this.in = new RingReader(toManager, doorbells === null ? null : watcherOf(doorbells.toManager));
    this.out = new RingWriter(fromManager, doorbells === null ? null : bellOf(doorbells.fromManager));
    this.deliveries = new BatchedDeliveries(this.out);
  }

  deliver(handle: number, body: string): void {
    this.deliveries.deliver(handle, body);
  }

  release(handle: number): void {
    this.deliveries.release(handle);
  }

  flush(): void {
    this.deliveries.flush();
  }

  /** How full both rings are now: two atomic loads, nothing written. */
  occupancy(): RingOccupancy {
    return { toManager: this.in.bytesUsed, toWorker: this.out.bytesUsed, toWorkerBacklog: this.out.backlogBytes, capacity: this.in.capacity };
  }

  /** Starts reading POLL/GONE records into `handler`, in order. */
  start(handler: WorkerRecordHandler): void {
    const ring = this.in.bytes;
    const worker = this.worker;
    this.onRecord = (offset) => {
      const type = ring[offset + RECORD_OFFSET.type];
      if (type === RecordType.Poll) {
        handler.onPollBytes(
          worker,
          ring.readDoubleLE(offset + RECORD_OFFSET.handle),
          ring.readDoubleLE(offset + RECORD_OFFSET.since),
          ring,
          offset + RECORD_OFFSET.client,
          ring[offset + RECORD_OFFSET.clientLen]!,
          ring[offset + RECORD_OFFSET.mode] === PollMode.Stream,
        );
      } else if (type === RecordType.Gone) {
        handler.onGone(worker, ring.readDoubleLE(offset + RECORD_OFFSET.handle));
      }
    };
    this.in.start(this.onRecord);
  }

  /**
   * Reads every record the worker has published now, outside the ring's own
   * wake-ups (./poll-intake.ts): 0 before start() and inside a record's handler.
   */
  drainNow(): number {
    if (this.onRecord === undefined || this.in.isDraining || !this.in.hasRecords) return 0;
    return this.in.drain(this.onRecord);
  }

  close(): void {
    this.deliveries.flush();
    this.onRecord = undefined;
    this.in.close();
    this.out.close();
  }
}
