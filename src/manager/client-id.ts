// Client ids as PROTOCOL.md section 1 allows them: 1-64 bytes of [A-Za-z0-9_:-].
// Both sides (HTTP polls and app sends) must agree exactly, so this is the one
// definition; the characters are ASCII, so UTF-16 length equals byte length.

export const MAX_CLIENT_ID_BYTES = 64;

const CLIENT_ID = /^[A-Za-z0-9_:-]{1,64}$/;

export function isValidClientId(value: unknown): value is string {
  return typeof value === 'string' && CLIENT_ID.test(value);
}
