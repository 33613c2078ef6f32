// The events the engine hands to JavaScript, and the one decoder of them: the
// worker's request logic and the engine tests read the batch through
// readEvents(), never by offsets of their own. native/event_batch.cc writes
// this layout; change both or neither.
//
// Event record layout in `engine.events` (little-endian; every record starts on a
// 4-byte boundary; the next record starts at align4(16 + targetLen + acrhLen)).
//
//   0      1        2           4        8         12         14        16
//   +------+--------+-----------+--------+---------+----------+---------+----------------+------------+
//   | type | method | targetLen |  slot  |   gen   | acrhLen  | (zero)  | target bytes   | acrh bytes |
//   |  u8  |   u8   |    u16    |  u32   |   u32   |   u16    |   u16   | targetLen      | acrhLen    |
//   +------+--------+-----------+--------+---------+----------+---------+----------------+------------+
//
// REQUEST: a complete request head; method is a Method; target is the
//   request-target in origin-form (latin1; "*" for OPTIONS *; an absolute-form
//   "http://host/x?q" arrives as "/x?q"); acrh is one header's value, by
//   method: Access-Control-Request-Headers for OPTIONS, Last-Event-ID for GET
//   (an EventSource resuming GET /events), else length 0. The request stays outstanding until
//   respond() (or the connection dies: then CLOSED if it was held, nothing
//   otherwise). One request per connection is outstanding at a time: the
//   next one (pipelined) is reported after this one is answered. A request
//   body (Content-Length, at most 64 KiB) is read and dropped by the engine.
// CLOSED: the peer closed (FIN or reset) while the request was held; the
//   handle is dead. method, targetLen, acrhLen are 0. A peer that only
//   half-closes with an unheld request still gets its answer (with close).
// TIMEOUT: a held request reached its hold() timeout; it is still open and
//   must be answered with respond().
//
// `slot` is the engine's connection slot: a small integer naming the
// connection within this engine, stable while it lives and reused (last
// freed, first reused) after it closes. It is not the socket's file
// descriptor: a slot table per worker stays dense, where one indexed by fd
// would have every worker touch pages across the process-wide fd range.
//
// Requests the engine answers itself are never reported: the codes marked
// `engine` in src/protocol/errors.ts (malformed HTTP, bodies over 64 KiB,
// heads over 8 KiB, Transfer-Encoding, past maxConnections or the fd limit).
//
// A handle names one request on one connection: handle = gen * 2^24 + slot.
// The engine bumps a slot's generation on accept and for every request it
// reports, so a late respond() to an answered request, or to a connection
// whose slot was reused, is refused rather than written to someone else.

export const EventType = { Request: 1, Closed: 2, Timeout: 3 } as const;
export const Method = { Get: 1, Head: 2, Options: 3, Post: 4, Put: 5, Delete: 6, Other: 7 } as const;
export type MethodCode = (typeof Method)[keyof typeof Method];

export const EVENT_HEADER_BYTES = 16;
export const EVENT_OFFSET = { type: 0, method: 1, targetLen: 2, slot: 4, gen: 8, acrhLen: 12 } as const;
export const HANDLE_SLOT_BITS = 24;
export const HANDLE_SLOT_SPAN = 2 ** HANDLE_SLOT_BITS;
/** Generations wrap below this, so a handle stays a safe integer. */
export const HANDLE_GEN_SPAN = 2 ** 29;

export function makeHandle(slot: number, gen: number): number {
  return gen * HANDLE_SLOT_SPAN + slot;
}
export function handleSlot(handle: number): number {
  return handle % HANDLE_SLOT_SPAN;
}

/** What a reader of the event batch does with each event. */
export interface EngineEventHandler {
  /** `target` is the request-target in origin-form (an absolute-form one reduced to its path and query); `acrh` the Access-Control-Request-Headers value for OPTIONS, the Last-Event-ID value for GET, else ''. */
  onRequest(handle: number, method: number, target: string, acrh: string): void;
  onTimeout(handle: number): void;
  onClosed(handle: number): void;
}

/**
 * Reads `count` event records from the start of `bytes` (a view of
 * engine.events) and hands each to `handler`, in order. Returns the offset
 * where the last record ends: the batch's byte count, which tests check.
 */
export function readEvents(bytes: Buffer, count: number, handler: EngineEventHandler): number {
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const type = bytes[offset + EVENT_OFFSET.type]!;
    const targetLen = bytes.readUInt16LE(offset + EVENT_OFFSET.targetLen);
    const acrhLen = bytes.readUInt16LE(offset + EVENT_OFFSET.acrhLen);
    const handle = makeHandle(bytes.readUInt32LE(offset + EVENT_OFFSET.slot), bytes.readUInt32LE(offset + EVENT_OFFSET.gen));
    const body = offset + EVENT_HEADER_BYTES;
    if (type === EventType.Request) {
      const method = bytes[offset + EVENT_OFFSET.method]!;
      const target = bytes.toString('latin1', body, body + targetLen);
      const acrh = acrhLen === 0 ? '' : bytes.toString('latin1', body + targetLen, body + targetLen + acrhLen);
      handler.onRequest(handle, method, target, acrh);
    } else if (type === EventType.Timeout) {
      handler.onTimeout(handle);
    } else if (type === EventType.Closed) {
      handler.onClosed(handle);
    }
    offset += (EVENT_HEADER_BYTES + targetLen + acrhLen + 3) & ~3;
  }
  return offset;
}

/**
 * A Buffer over the engine's current event buffer, re-made only when the
 * engine has swapped in a larger one (it may, when one iteration's events
 * outgrow it).
 */
export class EventBytes {
  private bytes: Buffer | undefined;
  view(events: ArrayBuffer): Buffer {
    if (this.bytes === undefined || this.bytes.buffer !== events) this.bytes = Buffer.from(events);
    return this.bytes;
  }
}
