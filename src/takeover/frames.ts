// The control socket's framing (docs/ARCHITECTURE.md, "Restart without losing
// a message"): every frame is a u32 LE length (of what follows it), a u8 type
// and a payload. Control frames carry one JSON object; the state frames
// (CLIENT, MESSAGES) are binary, see ./state-stream.ts.
//
//   new process                          old process
//   HELLO {version, pid}            ->
//                                   <-   INFO {version, pid, httpPort, appPort} | REFUSE {reason}
//   TAKE                            ->   (stops taking sends)
//                                   <-   BEGIN, CLIENT, MESSAGES..., ..., GROUP..., END
//   IMPORTED | ABORT {reason}       ->   (app port bound | given up)
//                                   <-   RELEASED (control socket closed; it drains and exits)

/**
 * The version of this exchange and of the state stream. A process refuses a
 * peer of another version (REFUSE) and goes on as it was; bump it whenever a
 * frame's layout or meaning changes.
 */
export const TAKEOVER_VERSION = 1;
/** Names the exchange in HELLO and INFO, so a stray client is told apart from an old version. */
export const TAKEOVER_PROTOCOL = 'megacomet-takeover';

export const enum FrameType {
  Hello = 1,
  Info = 2,
  Refuse = 3,
  Take = 4,
  Begin = 5,
  Client = 6,
  Messages = 7,
  End = 8,
  Imported = 9,
  Abort = 10,
  Released = 11,
  Group = 12,
}

const NAMES: Record<number, string> = {
  1: 'HELLO', 2: 'INFO', 3: 'REFUSE', 4: 'TAKE', 5: 'BEGIN', 6: 'CLIENT', 7: 'MESSAGES', 8: 'END', 9: 'IMPORTED', 10: 'ABORT', 11: 'RELEASED', 12: 'GROUP',
};

export function frameName(type: number): string {
  return NAMES[type] ?? `frame type ${type}`;
}

/** Bytes before a frame's payload: length u32, type u8. */
export const FRAME_HEADER_BYTES = 5;
/** The largest frame a reader accepts (type and payload): above the largest MESSAGES frame the encoder makes. */
export const MAX_FRAME_BYTES = 16 << 20;

export class FrameError extends Error {
  override name = 'FrameError';
}

export interface Frame {
  type: number;
  payload: Buffer;
}

/** A frame around `payload`. */
export function frame(type: FrameType, payload: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  out.writeUInt32LE(1 + payload.length, 0);
  out[4] = type;
  payload.copy(out, FRAME_HEADER_BYTES);
  return out;
}

/** A control frame carrying `value` as JSON. */
export function jsonFrame(type: FrameType, value: object): Buffer {
  return frame(type, Buffer.from(JSON.stringify(value), 'utf8'));
}

/** A control frame's JSON object; throws FrameError when it is not one. */
export function frameJson(f: Frame): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(f.payload.toString('utf8'));
  } catch {
    throw new FrameError(`${frameName(f.type)} does not carry JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new FrameError(`${frameName(f.type)} does not carry a JSON object`);
  return value as Record<string, unknown>;
}

/**
 * Cuts frames out of a byte stream. Chunks are kept as they come and joined
 * once per complete frame, so a frame of a megabyte that arrives in 64 KiB
 * reads is copied once, not once per read.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private bytes = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.bytes += chunk.length;
  }

  /** Bytes received and not yet taken as frames. */
  get buffered(): number {
    return this.bytes;
  }

  /** The next complete frame, or null; throws FrameError on a length no frame has. */
  next(): Frame | null {
    if (this.bytes < FRAME_HEADER_BYTES) return null;
    if (this.chunks[0]!.length < FRAME_HEADER_BYTES) this.chunks = [Buffer.concat(this.chunks)];
    const length = this.chunks[0]!.readUInt32LE(0);
    if (length < 1 || length > MAX_FRAME_BYTES) throw new FrameError(`a frame of ${length} bytes: the stream is not a takeover stream, or is corrupt`);
    const total = 4 + length;
    if (this.bytes < total) return null;
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.bytes);
    const rest = all.subarray(total);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.bytes = rest.length;
    return { type: all[4]!, payload: all.subarray(FRAME_HEADER_BYTES, total) };
  }
}
