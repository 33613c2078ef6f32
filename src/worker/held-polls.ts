// The polls this worker holds, indexed by the engine's connection slot (the
// low 24 bits of a handle; see src/engine/events.ts).
//
// Per held poll the worker keeps only what nobody else has for it:
//   generation + 1  u32  the handle's generation (0: no poll on this slot), so
//                        a DELIVER or RELEASE for a poll that already ended is
//                        told from one for the slot's current poll
//   since           f64  the poll's cursor, for its empty answer at the poll
//                        timeout or on a RELEASE (the manager does not keep it);
//                        STREAM for an event stream (GET /events), which has
//                        no empty answer and so needs no cursor
// 12 bytes, in typed arrays in pages of PAGE slots allocated when first
// needed and never freed (engine slots are dense per worker: the engine reuses
// the last freed slot first, so the pages follow the peak of connections).
// The client id is not kept: the POLL record carries it to the manager, and a
// GONE record needs only the handle (the manager finds the client from the
// slot). JSONP callbacks are rare, so they live in a Map by slot that is
// empty for plain JSON clients.
//
// Single-threaded: owned by the worker's thread.
import { HANDLE_SLOT_SPAN, handleSlot } from '../engine/events.js';

const PAGE_BITS = 12;
const PAGE = 1 << PAGE_BITS;
const MASK = PAGE - 1;

/** What take() answers when the poll is not held (any more). */
export const NOT_HELD = -1;
/** What take() answers for an event stream. */
export const STREAM = -2;

export class HeldPolls {
  private readonly generations: Uint32Array[] = [];
  private readonly sinces: Float64Array[] = [];
  private readonly callbacks = new Map<number, string>();
  private count = 0;
  /** The JSONP callback of the poll the last successful take() removed, undefined for plain JSON. */
  takenCallback: string | undefined = undefined;

  get size(): number {
    return this.count;
  }

  add(handle: number, since: number, callback: string | undefined): void {
    const slot = handleSlot(handle);
    const page = slot >>> PAGE_BITS;
    while (this.generations.length <= page) {
      this.generations.push(new Uint32Array(PAGE));
      this.sinces.push(new Float64Array(PAGE));
    }
    const generations = this.generations[page]!;
    if (generations[slot & MASK] === 0) this.count++;
    generations[slot & MASK] = (handle - slot) / HANDLE_SLOT_SPAN + 1;
    this.sinces[page]![slot & MASK] = since;
    if (callback !== undefined) this.callbacks.set(slot, callback);
    else if (this.callbacks.size !== 0) this.callbacks.delete(slot);
  }

  /** Whether `handle` is a held event stream (added with since = STREAM). */
  isStream(handle: number): boolean {
    const slot = handleSlot(handle);
    const generations = this.generations[slot >>> PAGE_BITS];
    return (
      generations !== undefined &&
      generations[slot & MASK] === (handle - slot) / HANDLE_SLOT_SPAN + 1 &&
      this.sinces[slot >>> PAGE_BITS]![slot & MASK] === STREAM
    );
  }

  /**
   * Removes the poll `handle` and returns its cursor (its callback is then in
   * takenCallback), or NOT_HELD if this worker no longer holds it.
   */
  take(handle: number): number {
    const slot = handleSlot(handle);
    const generations = this.generations[slot >>> PAGE_BITS];
    if (generations === undefined || generations[slot & MASK] !== (handle - slot) / HANDLE_SLOT_SPAN + 1) return NOT_HELD;
    generations[slot & MASK] = 0;
    this.count--;
    if (this.callbacks.size === 0) {
      this.takenCallback = undefined;
    } else {
      this.takenCallback = this.callbacks.get(slot);
      this.callbacks.delete(slot);
    }
    return this.sinces[slot >>> PAGE_BITS]![slot & MASK]!;
  }

  /** Every held poll's handle (for shutdown). */
  allHandles(): number[] {
    const out: number[] = [];
    for (let page = 0; page < this.generations.length; page++) {
      const generations = this.generations[page]!;
      for (let index = 0; index < PAGE; index++) {
        if (generations[index] !== 0) out.push((generations[index]! - 1) * HANDLE_SLOT_SPAN + page * PAGE + index);
      }
    }
    return out;
  }

  /** Exact bytes of the typed arrays (the callbacks Map of JSONP polls not included). */
  memory(): number {
    return this.generations.length * PAGE * (Uint32Array.BYTES_PER_ELEMENT + Float64Array.BYTES_PER_ELEMENT);
  }
}
