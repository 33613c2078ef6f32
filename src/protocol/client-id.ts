// Client ids as PROTOCOL.md section 1 allows them: 1-64 bytes of [A-Za-z0-9_:-].
// Polls (worker) and app sends (manager) must agree exactly, so this is the one
// definition; the characters are ASCII, so UTF-16 length equals byte length.

export const MAX_CLIENT_ID_BYTES = 64;

/** The rule in words, for error messages. */
export const CLIENT_ID_RULE = '1-64 characters of A-Z a-z 0-9 _ : -';

const CLIENT_ID = /^[A-Za-z0-9_:-]{1,64}$/;

export function isValidClientId(value: unknown): value is string {
  return typeof value === 'string' && CLIENT_ID.test(value);
}

/** Whether UTF-16 unit `c` may stand in a client id: [A-Za-z0-9_:-]. For scanners that cannot afford a regex per id. */
export function isClientIdChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x3a) || c === 0x5f || c === 0x2d;
}
