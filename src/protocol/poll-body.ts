// The body of a poll answer (PROTOCOL.md section 1), written by both threads:
// the manager when it delivers messages or releases an older poll, the worker
// at a poll timeout and at shutdown.
//
//   {"cursor":<id of the last message, or the poll's since>,"messages":[<data>,...]}

/** The answer with nothing to deliver: the cursor the poll asked with, back. */
export function emptyPollBody(since: number): string {
  return `{"cursor":${since},"messages":[]}`;
}

/**
 * The empty answer of a poll a newer subscription of its client (a /poll or
 * an /events) replaced: `replaced` tells a client with two tabs open that it
 * lost, so it can stop instead of taking the subscription back.
 */
export function replacedPollBody(since: number): string {
  return `{"cursor":${since},"messages":[],"replaced":true}`;
}

/** The answer carrying messages: `messages` is their data texts joined by commas, in id order; `cursor` the last one's id. */
export function pollBody(cursor: number, messages: string): string {
  return `{"cursor":${cursor},"messages":[${messages}]}`;
}

/** UTF-8 bytes of a poll body beyond its messages and their commas, for a cursor of up to 16 digits. */
export const POLL_BODY_OVERHEAD_BYTES = 48;
