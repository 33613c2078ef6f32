// The shape of a poll answer (PROTOCOL.md section 1) where both sides write
// it: the worker at a poll timeout and at shutdown, the manager when a newer
// poll releases an older one.

/** The answer with nothing to deliver: the cursor the poll asked with, back. */
export function emptyPollBody(since: number): string {
  return `{"cursor":${since},"messages":[]}`;
}
