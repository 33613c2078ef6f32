// The layout of the records that cross between a worker and the manager, one
// ring per direction per worker (./ring.ts carries the bytes). Each side has
// one port that alone encodes what it sends and decodes what it receives:
//   worker side   src/worker/manager-port.ts   POLL/GONE out, DELIVER/RELEASE in
//   manager side  src/manager/worker-port.ts   DELIVER/RELEASE out, POLL/GONE in
//
// worker -> manager
//   POLL   a poll for `client` is now held by this worker as `handle`; it
//          acknowledges every id <= since. With mode STREAM it is an event
//          stream (GET /events): it stays held after each DELIVER, which the
//          worker writes on it, until GONE or RELEASE.
//   GONE   the held poll `handle` ended without a delivery (the peer closed,
//          or the worker answered it empty at the poll timeout). No client id:
//          the manager finds the client from (worker, handle's engine slot).
// manager -> worker
//   DELIVER answer the held poll `handle` with this complete JSON body (for a
//          stream: write these complete events on it).
//   RELEASE answer the held poll `handle` empty, with the cursor it asked with
//          (the worker keeps it; a newer poll of the same client replaced it).
// A DELIVER or RELEASE for a poll that already ended is dropped by the worker.
//
// Layout (little-endian):
//   POLL:      0 type u8 | 1 clientLen u8 | 2 mode u8 | 3..8 zero | 8 handle f64 | 16 since f64 | 24 client (ASCII)
//   GONE:      0 type u8 | 1..8 zero      | 8 handle f64                                   (16 bytes)
//   DELIVER:   0 type u8 | 1..4 zero      | 4 bodyLen u32 | 8 handle f64 | 16 body (UTF-8 JSON)
//   RELEASE:   0 type u8 | 1..8 zero      | 8 handle f64                                   (16 bytes)

import { MAX_CLIENT_ID_BYTES } from '../protocol/client-id.js';

export const RecordType = { Poll: 1, Gone: 2, Deliver: 3, Release: 4 } as const;

/** POLL mode: a long-poll, or an event stream. */
export const PollMode = { Poll: 0, Stream: 1 } as const;

export const RECORD_OFFSET = {
  type: 0,
  clientLen: 1,
  mode: 2,
  bodyLen: 4,
  handle: 8,
  since: 16,
  client: 24,
  body: 16,
} as const;

/** A POLL record is at most this long. */
export const MAX_CLIENT_RECORD_BYTES = RECORD_OFFSET.client + MAX_CLIENT_ID_BYTES;
/** A GONE or RELEASE record is exactly this long: type and handle. */
export const HANDLE_RECORD_BYTES = RECORD_OFFSET.handle + 8;

/** Bytes a DELIVER record of this body needs at most (UTF-8 is at most 3 bytes per UTF-16 unit). */
export function deliverRecordCapacity(body: string): number {
  return RECORD_OFFSET.body + body.length * 3;
}
