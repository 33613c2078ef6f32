// The worker's end of its two rings to the manager: the only place a worker
// encodes POLL/GONE records and decodes DELIVER records (layout in
// src/ring/records.ts).

import { RingReader, RingWriter } from '../ring/ring.js';
import { MAX_CLIENT_RECORD_BYTES, RECORD_OFFSET, RecordType } from '../ring/records.js';

/** What the request logic tells the manager (a ring in production, a fake in tests). */
export interface ManagerPort {
  /** A poll of `client` is held as `handle`; it acknowledges every id <= since. */
  poll(handle: number, since: number, client: string): void;
  /** The held poll `handle` of `client` ended without a delivery. */
  gone(handle: number, client: string): void;
}

/** Receives the manager's DELIVER records. `body` is a view into the ring, valid only during the call. */
export type DeliverHandler = (handle: number, body: Buffer) => void;

export class RingManagerPort implements ManagerPort {
  private readonly out: RingWriter;
  private readonly in: RingReader;
  /** Records are encoded here and copied into the ring at once; a client id is ASCII, at most 64 bytes. */
  private readonly scratch = Buffer.alloc(MAX_CLIENT_RECORD_BYTES);

  constructor(toManager: SharedArrayBuffer, fromManager: SharedArrayBuffer) {
    this.out = new RingWriter(toManager);
    this.in = new RingReader(fromManager);
  }

  poll(handle: number, since: number, client: string): void {
    this.writeClientRecord(RecordType.Poll, handle, since, client);
  }

  gone(handle: number, client: string): void {
    this.writeClientRecord(RecordType.Gone, handle, 0, client);
  }

  /** Starts reading DELIVER records, each handed to `onDeliver` in order. */
  start(onDeliver: DeliverHandler): void {
    const ring = this.in.bytes;
    this.in.start((offset) => {
      if (ring[offset + RECORD_OFFSET.type] !== RecordType.Deliver) return;
      const len = ring.readUInt32LE(offset + RECORD_OFFSET.bodyLen);
      const start = offset + RECORD_OFFSET.body;
      onDeliver(ring.readDoubleLE(offset + RECORD_OFFSET.handle), ring.subarray(start, start + len));
    });
  }

  close(): void {
    this.in.stop();
    this.out.close();
  }

  private writeClientRecord(type: number, handle: number, since: number, client: string): void {
    const out = this.scratch;
    out[RECORD_OFFSET.type] = type;
    out[RECORD_OFFSET.clientLen] = client.length;
    out.writeDoubleLE(handle, RECORD_OFFSET.handle);
    out.writeDoubleLE(since, RECORD_OFFSET.since);
    out.write(client, RECORD_OFFSET.client, 'latin1');
    this.out.write(out, RECORD_OFFSET.client + client.length);
  }
}
