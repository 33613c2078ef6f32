// The polls this worker holds, indexed by the engine's connection slot (the
// low 24 bits of a handle; see src/native.ts). An idle held poll must cost a
// few dozen bytes here (DESIGN.md budget), so there is no object per poll:
// two growable Float64Arrays and one array slot pointing at the client id
// string the request parsing already made. JSONP callbacks are rare, so they
// live in a Map that is empty for plain JSON clients.
import { handleFd } from '../native.js';

export interface HeldPoll {
  readonly handle: number;
  readonly client: string;
  readonly since: number;
  readonly callback: string | undefined;
}

const INITIAL_SLOTS = 1024;

export class HeldPolls {
  private handles = new Float64Array(INITIAL_SLOTS);
  private sinces = new Float64Array(INITIAL_SLOTS);
  private clients: (string | undefined)[] = [];
  private readonly callbacks = new Map<number, string>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(handle: number, client: string, since: number, callback: string | undefined): void {
    const fd = handleFd(handle);
    this.ensure(fd);
    if (this.handles[fd] === 0) this.count++;
    this.handles[fd] = handle;
    this.sinces[fd] = since;
    this.clients[fd] = client;
    if (callback !== undefined) this.callbacks.set(fd, callback);
    else this.callbacks.delete(fd);
  }

  /** Removes and returns the poll `handle`, or undefined if this worker no longer holds it. */
  take(handle: number): HeldPoll | undefined {
    const fd = handleFd(handle);
    if (fd >= this.handles.length || this.handles[fd] !== handle) return undefined;
    const poll: HeldPoll = { handle, client: this.clients[fd]!, since: this.sinces[fd]!, callback: this.callbacks.get(fd) };
    this.handles[fd] = 0;
    this.clients[fd] = undefined;
    this.callbacks.delete(fd);
    this.count--;
    return poll;
  }

  /** Every held poll's handle (for shutdown). */
  allHandles(): number[] {
    const out: number[] = [];
    for (let fd = 0; fd < this.handles.length; fd++) if (this.handles[fd] !== 0) out.push(this.handles[fd]!);
    return out;
  }

  private ensure(fd: number): void {
    if (fd >= this.handles.length) {
      let size = this.handles.length;
      while (size <= fd) size *= 2;
      const handles = new Float64Array(size);
      handles.set(this.handles);
      const sinces = new Float64Array(size);
      sinces.set(this.sinces);
      this.handles = handles;
      this.sinces = sinces;
    }
    // Grown by push, one slot at a time, so the array stays packed (no holes).
    while (this.clients.length <= fd) this.clients.push(undefined);
  }
}
