// The polls this worker holds, indexed by the engine's connection slot (the
// low 24 bits of a handle; see src/engine/events.ts). An idle held poll must cost a
// few dozen bytes here (DESIGN.md budget), so there is no object per poll:
// two growable Float64Arrays and one array slot pointing at the client id
// string the request parsing already made. JSONP callbacks are rare, so they
// live in a Map that is empty for plain JSON clients.
import { handleSlot } from '../engine/events.js';

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
    const slot = handleSlot(handle);
    this.ensure(slot);
    if (this.handles[slot] === 0) this.count++;
    this.handles[slot] = handle;
    this.sinces[slot] = since;
    this.clients[slot] = client;
    if (callback !== undefined) this.callbacks.set(slot, callback);
    else this.callbacks.delete(slot);
  }

  /** Removes and returns the poll `handle`, or undefined if this worker no longer holds it. */
  take(handle: number): HeldPoll | undefined {
    const slot = handleSlot(handle);
    if (slot >= this.handles.length || this.handles[slot] !== handle) return undefined;
    const poll: HeldPoll = { handle, client: this.clients[slot]!, since: this.sinces[slot]!, callback: this.callbacks.get(slot) };
    this.handles[slot] = 0;
    this.clients[slot] = undefined;
    this.callbacks.delete(slot);
    this.count--;
    return poll;
  }

  /** Every held poll's handle (for shutdown). */
  allHandles(): number[] {
    const out: number[] = [];
    for (let slot = 0; slot < this.handles.length; slot++) if (this.handles[slot] !== 0) out.push(this.handles[slot]!);
    return out;
  }

  private ensure(slot: number): void {
    if (slot >= this.handles.length) {
      let size = this.handles.length;
      while (size <= slot) size *= 2;
      const handles = new Float64Array(size);
      handles.set(this.handles);
      const sinces = new Float64Array(size);
      sinces.set(this.sinces);
      this.handles = handles;
      this.sinces = sinces;
    }
    // Grown by push, one slot at a time, so the array stays packed (no holes).
    while (this.clients.length <= slot) this.clients.push(undefined);
  }
}
