// Splits a byte stream into lines ending in \n (a \r before it is part of the
// line end), holding at most one line of --max-line bytes (plus one chunk).
//
// Pull-based: the connection pushes chunks and takes lines one at a time, so
// it can stop taking (its socket's write side is backed up) and leave the rest
// here without reading more. A line that grows past the limit is reported as
// soon as that is certain, before its end arrives: a peer that never sends a
// newline cannot make us buffer without bound.

const LF = 0x0a;
const CR = 0x0d;

/** No complete line is buffered; push more. */
export const NEED_MORE = Symbol('need more');
/** The current line is over the limit; the stream cannot be framed further. */
export const TOO_LARGE = Symbol('too large');

export class LineFramer {
  private maxLine: number;
  /** Chunks not yet looked at. */
  private readonly pending: Buffer[] = [];
  /** The chunk being split, and where its unconsumed bytes start. */
  private current: Buffer | null = null;
  private offset = 0;
  /** Start of the line being assembled, from earlier chunks. */
  private partial: Buffer[] = [];
  private partialLength = 0;

  /** `maxLine`: bytes a line may have, not counting its \n or \r\n. */
  constructor(maxLine: number) {
    this.maxLine = maxLine;
  }

  /** Changes the limit for the line being assembled and the ones after it. */
  setLimit(maxLine: number): void {
    this.maxLine = maxLine;
  }

  push(chunk: Buffer): void {
    if (chunk.length > 0) this.pending.push(chunk);
  }

  /** The next complete line without its line end (a view into the chunks: use it before the next push). */
  next(): Buffer | typeof NEED_MORE | typeof TOO_LARGE {
    for (;;) {
      if (this.current === null) {
        const chunk = this.pending.shift();
        if (chunk === undefined) return NEED_MORE;
        this.current = chunk;
        this.offset = 0;
      }
      const chunk = this.current;
      const lf = chunk.indexOf(LF, this.offset);
      if (lf < 0) {
        const rest = chunk.subarray(this.offset);
        this.current = null;
        this.partial.push(rest);
        this.partialLength += rest.length;
        // A trailing \r may still turn out to be the line end, so one byte more is allowed only then.
        if (this.partialLength > this.maxLine + 1 || (this.partialLength === this.maxLine + 1 && rest[rest.length - 1] !== CR)) {
          return TOO_LARGE;
        }
        continue;
      }
      let line = chunk.subarray(this.offset, lf);
      this.offset = lf + 1;
      if (this.offset === chunk.length) this.current = null;
      if (this.partialLength > 0) {
        this.partial.push(line);
        line = Buffer.concat(this.partial, this.partialLength + line.length);
        this.partial = [];
        this.partialLength = 0;
      }
      if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
      if (line.length > this.maxLine) return TOO_LARGE;
      return line;
    }
  }
}

/** Whether a line holds only JSON whitespace (it is skipped without a reply). */
export function isBlank(line: Buffer): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c !== 0x20 && c !== 0x09 && c !== CR) return false;
  }
  return true;
}
