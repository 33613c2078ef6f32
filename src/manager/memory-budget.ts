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

// Groups (./groups.ts): a publish is stored once, so it counts once, not per member.
/** Per publish in a group's log beyond its data: id, expiry and data pointer in the log's arrays, the string's header. */
export const GROUP_MESSAGE_BYTES = 40;
/** Per membership: 20 B of typed arrays (docs/ARCHITECTURE.md, "Groups") and the growth slack of the group's arrays. */
export const MEMBERSHIP_BYTES = 24;
/** Per group: its object, its log's object and arrays, its place in the name map, its smallest member arrays. */
export const GROUP_BYTES = 512;
