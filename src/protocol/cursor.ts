// Message ids and cursors (PROTOCOL.md section 1): positive integers below
// 2^53, so they stay exact in a double and in every JSON parser. The worker
// checks a poll's `since` against this rule; the manager's id counter stays
// below the same bound.

/** Cursors and ids are below this. */
export const CURSOR_LIMIT = 2 ** 53;

/** The largest id the server issues. */
export const MAX_MESSAGE_ID = CURSOR_LIMIT - 1;

/** `since` as written on the wire: 0, or digits without sign or leading zero (the value is checked separately). */
const CURSOR_TEXT = /^(?:0|[1-9][0-9]{0,15})$/;

/** The cursor `text` stands for, or undefined when it is not a valid cursor. */
export function parseCursor(text: string): number | undefined {
  if (!CURSOR_TEXT.test(text)) return undefined;
  const value = Number(text);
  return value < CURSOR_LIMIT ? value : undefined;
}

/** The rule in words, for error messages. */
export const CURSOR_RULE = '0 or a whole number below 2^53 without sign or leading zeros';
