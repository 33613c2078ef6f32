// Copies of strings that are kept long, so they do not pin what they were cut from.
//
// V8 represents a substring of 13 or more characters as a slice that keeps its
// whole parent alive. A value cut out of a request-target and kept as long as
// the poll is held would pin that URL: measured when the worker still kept
// client ids, a 37-character id from a typical poll URL cost 145 B of heap per
// held poll as a slice and 65 B as a copy (100k ids, heap used after GC).
// Client ids are no longer kept as strings by anyone (the manager keeps their
// bytes in its client table); a held JSONP poll's callback name still is.

/**
 * A new flat string equal to `value`, which must not contain '%' (client ids
 * and JSONP callback names never do once validated): decodeURIComponent always
 * returns a fresh sequential string, and without '%' it changes nothing.
 */
export function flatCopy(value: string): string {
  return decodeURIComponent(value);
}
