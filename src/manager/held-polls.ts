// Where each client's held poll is, by client-table entry (./client-table.ts),
// and which entry each worker's engine slot holds a poll for.
//
// Both directions are needed: a send finds the client's entry by id, then its
// poll (worker, handle) here; a GONE record carries only (worker, handle), so
// the entry is found from the handle's engine slot (its low 24 bits, see
// src/engine/events.ts), which names one connection of that worker's engine,
// and at most one held poll. The handle stored for the entry then tells a
// current poll from an older one on the same slot.
//
// No object per poll, all typed arrays in pages of PAGE (4096) that are
// allocated when first needed and never freed (after a peak they keep its
// bytes, reused by later polls; growing neither copies nor over-allocates by
// more than a page):
//   by entry            worker u16 (NO_WORKER: no held poll; STREAM_BIT: an
//                       event stream, GET /events) | handle f64              10 bytes
//   by worker and slot  entry i32 (-1: none)                                  4 bytes
// so 14 bytes per held poll (engine slots are dense per worker: the engine
// reuses the last freed slot first). The poll's cursor is not here: the
// worker keeps it for the empty answer it owes at the poll's timeout, and a
// release (./worker-port.ts) lets that worker answer with it. The manager
// keeps a cursor only when it is above every id issued (manager.ts).
//
// Single-threaded: owned by the manager's thread.

import { HANDLE_SLOT_SPAN } from '../engine/events.js';

const NO_WORKER = 0xffff;
/** Set in the worker field for an event stream: a held request that stays held after a delivery. */
const STREAM_BIT = 0x8000;
/** Workers are numbered 0..MAX_WORKERS-1. */
export const MAX_WORKERS = STREAM_BIT;
const PAGE_BITS = 12;
const PAGE = 1 << PAGE_BITS;
const MASK = PAGE - 1;

export class HeldPolls {
  private readonly workers: Uint16Array[] = [];
  private readonly handles: Float64Array[] = [];
  /** By worker: pages of engine slot -> entry. */
  private readonly slots: Int32Array[][] = [];
  private count = 0;

  /** Held polls. */
  get size(): number {
    return this.count;
  }

  /** Whether the client of `entry` has a held poll. */
  isHeld(entry: number): boolean {
    const page = this.workers[entry >>> PAGE_BITS];
    return page !== undefined && page[entry & MASK] !== NO_WORKER;
  }

  /** The worker of a held poll. */
  workerOf(entry: number): number {
    return this.workers[entry >>> PAGE_BITS]![entry & MASK]! & ~STREAM_BIT;
  }

  /** Whether the held request of `entry` (which has one) is an event stream. */
  isStream(entry: number): boolean {
    return (this.workers[entry >>> PAGE_BITS]![entry & MASK]! & STREAM_BIT) !== 0;
  }

  /** Whether `entry` has an open event stream. */
  hasStream(entry: number): boolean {
    const page = this.workers[entry >>> PAGE_BITS];
    if (page === undefined) return false;
    const worker = page[entry & MASK]!;
    return worker !== NO_WORKER && (worker & STREAM_BIT) !== 0;
  }

  /** The handle of a held poll. */
  handleOf(entry: number): number {
    return this.handles[entry >>> PAGE_BITS]![entry & MASK]!;
  }

  /** The entry whose held poll is exactly `handle` on `worker`, or -1. */
  entryAt(worker: number, handle: number): number {
    const entry = this.entryOnSlot(worker, handle);
    return entry >= 0 && this.handleOf(entry) === handle && this.workerOf(entry) === worker ? entry : -1;
  }

  /** The entry with a held poll on the engine slot of `handle` on `worker`, of any generation, or -1. */
  entryOnSlot(worker: number, handle: number): number {
    const slot = handle % HANDLE_SLOT_SPAN;
    const page = this.slots[worker]?.[slot >>> PAGE_BITS];
    return page === undefined ? -1 : page[slot & MASK]!;
  }

  /** Records the held poll (or with `stream`, the event stream) of `entry` (which has none) as `handle` on `worker`; the slot must hold no other poll. */
  hold(entry: number, worker: number, handle: number, stream = false): void {
    const page = entry >>> PAGE_BITS;
    while (this.workers.length <= page) {
      this.workers.push(new Uint16Array(PAGE).fill(NO_WORKER));
      this.handles.push(new Float64Array(PAGE));
    }
    this.workers[page]![entry & MASK] = stream ? worker | STREAM_BIT : worker;
    this.handles[page]![entry & MASK] = handle;
    const slot = handle % HANDLE_SLOT_SPAN;
    const pages = (this.slots[worker] ??= []);
    while (pages.length <= slot >>> PAGE_BITS) pages.push(new Int32Array(PAGE).fill(-1));
    pages[slot >>> PAGE_BITS]![slot & MASK] = entry;
    this.count++;
  }

  /** Forgets the held poll of `entry`. */
  release(entry: number): void {
    const page = entry >>> PAGE_BITS;
    const index = entry & MASK;
    const worker = this.workers[page]![index]! & ~STREAM_BIT;
    const slot = this.handles[page]![index]! % HANDLE_SLOT_SPAN;
    this.workers[page]![index] = NO_WORKER;
    const slots = this.slots[worker]![slot >>> PAGE_BITS]!;
    if (slots[slot & MASK] === entry) slots[slot & MASK] = -1;
    this.count--;
  }

  /** Calls `each` for every held poll (for listings; O(entries ever used)). */
  forEach(each: (entry: number, worker: number, handle: number) => void): void {
    for (let page = 0; page < this.workers.length; page++) {
      const workers = this.workers[page]!;
      for (let index = 0; index < PAGE; index++) {
        if (workers[index] !== NO_WORKER) each(page * PAGE + index, workers[index]! & ~STREAM_BIT, this.handles[page]![index]!);
      }
    }
  }

  /** Exact bytes of the typed arrays: by entry, and by worker and slot. */
  memory(): { byEntry: number; bySlot: number } {
    let bySlot = 0;
    for (const pages of this.slots) if (pages !== undefined) bySlot += pages.length * PAGE * Int32Array.BYTES_PER_ELEMENT;
    return { byEntry: this.workers.length * PAGE * (Uint16Array.BYTES_PER_ELEMENT + Float64Array.BYTES_PER_ELEMENT), bySlot };
  }
}
