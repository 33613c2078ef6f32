// Group names as PROTOCOL.md section 2 allows them: 1-64 characters of
// [A-Za-z0-9_:.-]. The one definition: the app port checks requests with it,
// the client library and the tests name groups by it. ASCII only, so a name's
// UTF-16 length is its byte length. '.' is allowed (unlike client ids) so that
// apps can write hierarchical names such as "room.42".

export const MAX_GROUP_NAME_BYTES = 64;

/** The rule in words, for error messages. */
export const GROUP_NAME_RULE = '1-64 characters of A-Z a-z 0-9 _ : - .';

const GROUP_NAME = /^[A-Za-z0-9_:.-]{1,64}$/;

export function isValidGroupName(value: unknown): value is string {
  return typeof value === 'string' && GROUP_NAME.test(value);
}
