// The worker's end of its two rings to the manager: the only place a worker
// encodes POLL/GONE records and decodes DELIVER/RELEASE records (layout in
// src/ring/records.ts).

import { RingReader, RingWriter } from '../ring/ring.js';
import { HANDLE_RECORD_BYTES, MAX_CLIENT_RECORD_BYTES, PollMode, RECORD_OFFSET, RecordType } from '../ring/records.js';
import { PromptBoard, promptBucket } from '../ring/prompt-board.js';
import { hashIdString } from '../protocol/client-id-hash.js';
import { bellOf, watcherOf, type RingDoorbells } from '../ring/doorbell.js';

/**
 * Past this share of the ring in use, quiet records wake the manager anyway: the
 * manager then never lets the ring fill with records nobody prompted it to read.
 */
const QUIET_MAX_FILL = 0.25;

/** What the request logic tells the manager (a ring in production, a fake in tests). */
export interface ManagerPort {
  /** A poll of `client` is held as `handle`; it acknowledges every id <= since. */
  poll(handle: number, since: number, client: string): void;
  /** An event stream of `client` is open as `handle`; it acknowledges every id <= since. */
  stream(handle: number, since: number, client: string): void;
  /** The held poll (or stream) `handle` ended without a delivery. */
  gone(handle: number): void;
}

/** Receives the manager's records, in order. */
export interface ManagerRecordHandler {
  /** DELIVER: answer `handle` (or write on the stream `handle`) with `body`, a view into the ring valid only during the call. */
  deliver(handle: number, body: Buffer): void;
  /** RELEASE: answer `handle` empty with its own cursor. */
  release(handle: number): void;
}

export class RingManagerPort implements ManagerPort {
  private readonly out: RingWriter;
  private readonly in: RingReader;
  /** Records are encoded here and copied into the ring at once; a client id is ASCII, at most 64 bytes. */
  private readonly scratch = Buffer.alloc(MAX_CLIENT_RECORD_BYTES);
  /** Says which POLLs must wake the manager; without one (tests), every record does. */
  private readonly board: PromptBoard | null;
  private readonly quietMaxBytes: number;

  /** `doorbells`: the fds of the two rings' doorbells (src/ring/doorbell.ts); null: Atomics.waitAsync. */
  constructor(toManager: SharedArrayBuffer, fromManager: SharedArrayBuffer, board: SharedArrayBuffer | null = null, doorbells: RingDoorbells | null = null) {
    this.out = new RingWriter(toManager, doorbells === null ? null : bellOf(doorbells.toManager));
    this.in = new RingReader(fromManager, doorbells === null ? null : watcherOf(doorbells.fromManager));
    this.board = board === null ? null : new PromptBoard(board);
    this.quietMaxBytes = Math.floor(this.out.capacity * QUIET_MAX_FILL);
  }

  poll(handle: number, since: number, client: string): void {
    this.writeClientRecord(PollMode.Poll, handle, since, client);
  }

  stream(handle: number, since: number, client: string): void {
    this.writeClientRecord(PollMode.Stream, handle, since, client);
  }

  gone(handle: number): void {
    // Bytes 3..8 of the scratch are never written, so they stay zero; byte 2 is a POLL's mode.
    const out = this.scratch;
    out[RECORD_OFFSET.type] = RecordType.Gone;
    out[RECORD_OFFSET.mode] = 0;
    out[RECORD_OFFSET.clientLen] = 0;
    out.writeDoubleLE(handle, RECORD_OFFSET.handle);
    // Nothing waits on a GONE: the manager reads it before it next delivers to this client.
    if (this.board === null) this.out.write(out, HANDLE_RECORD_BYTES);
    else if (this.out.writeQuietly(out, HANDLE_RECORD_BYTES) && this.out.usesMoreThan(this.quietMaxBytes)) this.out.wake();
  }

  /** Starts reading DELIVER and RELEASE records into `handler`, in order. */
  start(handler: ManagerRecordHandler): void {
    const ring = this.in.bytes;
    this.in.start((offset) => {
      const type = ring[offset + RECORD_OFFSET.type];
      if (type === RecordType.Deliver) {
        const len = ring.readUInt32LE(offset + RECORD_OFFSET.bodyLen);
        const start = offset + RECORD_OFFSET.body;
        handler.deliver(ring.readDoubleLE(offset + RECORD_OFFSET.handle), ring.subarray(start, start + len));
      } else if (type === RecordType.Release) {
        handler.release(ring.readDoubleLE(offset + RECORD_OFFSET.handle));
      }
    });
  }

  close(): void {
    this.in.close();
    this.out.close();
  }

  private writeClientRecord(mode: number, handle: number, since: number, client: string): void {
    const out = this.scratch;
    out[RECORD_OFFSET.type] = RecordType.Poll;
    out[RECORD_OFFSET.clientLen] = client.length;
    out[RECORD_OFFSET.mode] = mode;
    out.writeDoubleLE(handle, RECORD_OFFSET.handle);
    out.writeDoubleLE(since, RECORD_OFFSET.since);
    out.write(client, RECORD_OFFSET.client, 'latin1');
    const length = RECORD_OFFSET.client + client.length;
    const board = this.board;
    if (board === null) {
      this.out.write(out, length);
      return;
    }
    // Published first, then the board looked at: the order src/ring/prompt-board.ts relies on.
    if (!this.out.writeQuietly(out, length)) return; // on the overflow list: its flush wakes the manager
    if (mode === PollMode.Stream || board.needsPrompt(promptBucket(hashIdString(client)), since) || this.out.usesMoreThan(this.quietMaxBytes)) {
      this.out.wake();
    }
  }
}
