// Copies of strings that are kept long, so they do not pin what they were cut from.
//
// V8 represents a substring of 13 or more characters as a slice that keeps its
// whole parent alive. A client id cut out of a request-target or an app line,
// then kept as long as the client's poll or state lives, would pin that URL or
// line (a line may carry up to --max-message bytes of data). Measured for the
// worker: a 37-character id from a typical poll URL cost 145 B of heap per held
// poll as a slice and 65 B as a copy (100k ids, heap used after GC).

/**
 * A new flat string equal to `value`, which must not contain '%' (client ids
 * and JSONP callback names never do once validated): decodeURIComponent always
 * returns a fresh sequential string, and without '%' it changes nothing.
 */
export function flatCopy(value: string): string {
  return decodeURIComponent(value);
}
