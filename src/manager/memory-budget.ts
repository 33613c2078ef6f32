// What the memory budget (--max-memory) counts, per thing the manager holds.
// The budget bounds what apps can make the server keep (queued messages and
// the clients they are for), so that sends are refused with memory_full long
// before the process runs out of memory; it is an estimate built from the
// measured costs below, not a reading of the heap (which garbage and V8's
// own growth move by more than the budget's margin).
//
// A message's data counts in full for every recipient, though a send to many
// clients shares one copy: the budget errs on the side of refusing early.
// Held polls are not counted here: --max-connections bounds them.

/** Per queued message beyond its data: id and expiry as doubles, the data pointer, the string's header. */
export const MESSAGE_BYTES = 40;
/** Per client with queued messages: the queue object, its three arrays and its place in the queue map and expiry bucket. */
export const QUEUE_BYTES = 240;
/** Per client with state: its id in the arena, its table entry and index share (about 47 B measured; see docs/ARCHITECTURE.md). */
export const CLIENT_BYTES = 48;
