// The held polls' fields: which worker holds each, under which handle, and
// the cursor it asked with.
//
// A million idle subscribers each have exactly this state and nothing else,
// so it is kept without an object per client: the manager's one Map from
// client id to state holds a slot number (a Smi, so the Map entry allocates
// nothing beyond its hash table), and the slot's fields live here in typed
// arrays, allocated in pages of PAGE_SLOTS so that growing neither copies nor
// over-allocates by more than one page.
// Measured (test/manager-memory.ts): ~87 bytes per client at 100k clients,
// ~79 at 1M, for 16-character ids: the id string (32 bytes), the Map's table
// (~28-37 bytes) and 18 bytes of fields. Pages are never freed: after a peak
// they keep 18 bytes per peak client, cheaper than churning allocations.
//
//   slot = page * PAGE_SLOTS + index
//   worker  u16  NO_WORKER while the slot is free
//   handle  f64  the worker's handle (generation-tagged); for a free slot, the next free slot (-1 ends the list)
//   since   f64  the poll's cursor, < 2^53

const NO_WORKER = 0xffff;
/** Workers are numbered 0..MAX_WORKERS-1. */
export const MAX_WORKERS = NO_WORKER;
const PAGE_BITS = 12;
const PAGE_SLOTS = 1 << PAGE_BITS;
const INDEX_MASK = PAGE_SLOTS - 1;

export class HeldPolls {
  private readonly workers: Uint16Array[] = [];
  private readonly handles: Float64Array[] = [];
  private readonly sinces: Float64Array[] = [];
  /** Head of the free-slot list threaded through `handles`, -1 when empty. */
  private freeHead = -1;
  /** Slots below this have been handed out at least once. */
  private used = 0;
  private count = 0;

  /** Slots in use: held polls. */
  get size(): number {
    return this.count;
  }

  workerOf(slot: number): number {
    return this.workers[slot >>> PAGE_BITS]![slot & INDEX_MASK]!;
  }
  handleOf(slot: number): number {
    return this.handles[slot >>> PAGE_BITS]![slot & INDEX_MASK]!;
  }
  sinceOf(slot: number): number {
    return this.sinces[slot >>> PAGE_BITS]![slot & INDEX_MASK]!;
  }

  /** Records a held poll; returns its slot (a small non-negative integer). */
  add(worker: number, handle: number, since: number): number {
    let slot = this.freeHead;
    if (slot >= 0) this.freeHead = this.handleOf(slot);
    else slot = this.takeNewSlot();
    const page = slot >>> PAGE_BITS;
    const index = slot & INDEX_MASK;
    this.workers[page]![index] = worker;
    this.handles[page]![index] = handle;
    this.sinces[page]![index] = since;
    this.count++;
    return slot;
  }

  /** Frees the slot of a held poll that ended. */
  remove(slot: number): void {
    const page = slot >>> PAGE_BITS;
    const index = slot & INDEX_MASK;
    this.workers[page]![index] = NO_WORKER;
    this.handles[page]![index] = this.freeHead;
    this.freeHead = slot;
    this.count--;
  }

  private takeNewSlot(): number {
    if ((this.used & INDEX_MASK) === 0 && this.used >>> PAGE_BITS === this.workers.length) {
      this.workers.push(new Uint16Array(PAGE_SLOTS).fill(NO_WORKER));
      this.handles.push(new Float64Array(PAGE_SLOTS));
      this.sinces.push(new Float64Array(PAGE_SLOTS));
    }
    return this.used++;
  }
}
