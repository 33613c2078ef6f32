// Text that the server writes into a response head as a header value (the
// --cors-origin value is baked into the engine's prebuilt heads). The engine
// checks its option with the same rule (native/header_text.h), so a flag that
// passes here is never refused there.

/** Longest header value we take from configuration. */
export const MAX_HEADER_TEXT_BYTES = 1024;

/** Non-empty, at most 1024 bytes, visible ASCII and space only (no CR/LF, no control or 8-bit bytes). */
export function isHeaderText(value: string): boolean {
  return value.length > 0 && value.length <= MAX_HEADER_TEXT_BYTES && /^[\x20-\x7e]+$/.test(value);
}

/** The rule in words, for error messages. */
export const HEADER_TEXT_RULE = `1 to ${MAX_HEADER_TEXT_BYTES} visible ASCII characters or spaces`;
