// The records that cross between a worker and the manager, one ring per
// direction per worker (src/ring/ring.ts carries the bytes). This file is the
// only place that knows their layout.
//
// worker -> manager
//   POLL   a poll for `client` is now held by this worker as `handle`; it
//          acknowledges every id <= since.
//   GONE   the held poll `handle` of `client` ended without a delivery (the
//          peer closed, or the worker answered it empty at the poll timeout).
// manager -> worker
//   DELIVER answer the held poll `handle` with this complete JSON body.
//
// Layout (little-endian):
//   POLL/GONE: 0 type u8 | 1 clientLen u8 | 2..8 zero | 8 handle f64 | 16 since f64 | 24 client (latin1)
//   DELIVER:   0 type u8 | 1..4 zero      | 4 bodyLen u32 | 8 handle f64 | 16 body (UTF-8 JSON)

export const RecordType = { Poll: 1, Gone: 2, Deliver: 3 } as const;

export const RECORD_OFFSET = {
  type: 0,
  clientLen: 1,
  bodyLen: 4,
  handle: 8,
  since: 16,
  client: 24,
  body: 16,
} as const;

/** Client ids are at most 64 bytes (PROTOCOL.md section 1), so a POLL record is at most this long. */
export const MAX_POLL_RECORD_BYTES = RECORD_OFFSET.client + 64;

export interface PollRecord {
  type: typeof RecordType.Poll;
  handle: number;
  since: number;
  client: string;
}
export interface GoneRecord {
  type: typeof RecordType.Gone;
  handle: number;
  client: string;
}

/** Writes a POLL or GONE record into `out` at 0; returns its length. `client` must be ASCII (validated upstream). */
export function encodeClientRecord(
  out: Buffer,
  type: typeof RecordType.Poll | typeof RecordType.Gone,
  handle: number,
  since: number,
  client: string,
): number {
  out[RECORD_OFFSET.type] = type;
  out[RECORD_OFFSET.clientLen] = client.length;
  out.writeDoubleLE(handle, RECORD_OFFSET.handle);
  out.writeDoubleLE(since, RECORD_OFFSET.since);
  out.write(client, RECORD_OFFSET.client, 'latin1');
  return RECORD_OFFSET.client + client.length;
}

/** Writes the head of a DELIVER record into `out` at 0 and the body after it; returns its length. */
export function encodeDeliver(out: Buffer, handle: number, body: string): number {
  out[RECORD_OFFSET.type] = RecordType.Deliver;
  const bodyLen = out.write(body, RECORD_OFFSET.body, 'utf8');
  out.writeUInt32LE(bodyLen, RECORD_OFFSET.bodyLen);
  out.writeDoubleLE(handle, RECORD_OFFSET.handle);
  return RECORD_OFFSET.body + bodyLen;
}

/** Bytes a DELIVER record of this body needs at most (UTF-8 is at most 3 bytes per UTF-16 unit). */
export function deliverRecordCapacity(body: string): number {
  return RECORD_OFFSET.body + body.length * 3;
}

export function readType(bytes: Buffer, offset: number): number {
  return bytes[offset + RECORD_OFFSET.type]!;
}
export function readHandle(bytes: Buffer, offset: number): number {
  return bytes.readDoubleLE(offset + RECORD_OFFSET.handle);
}
export function readSince(bytes: Buffer, offset: number): number {
  return bytes.readDoubleLE(offset + RECORD_OFFSET.since);
}
export function readClient(bytes: Buffer, offset: number): string {
  const len = bytes[offset + RECORD_OFFSET.clientLen]!;
  const start = offset + RECORD_OFFSET.client;
  return bytes.toString('latin1', start, start + len);
}
/** The DELIVER body as a view into `bytes` (no copy): valid only while the record is. */
export function deliverBody(bytes: Buffer, offset: number): Buffer {
  const len = bytes.readUInt32LE(offset + RECORD_OFFSET.bodyLen);
  const start = offset + RECORD_OFFSET.body;
  return bytes.subarray(start, start + len);
}
