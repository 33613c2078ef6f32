// The error catalogue: every error code either side of the protocol answers
// with, in one place (PROTOCOL.md sections 1 and 2). docs/PROTOCOL.md lists
// the same codes in its two error tables, and native/http_errors.h holds the
// bodies the engine sends by itself; test/error-catalogue.ts fails when one of
// the three changes without the others. Add a code here first, never only in
// a reply.
//
// Code that refuses something returns a code from here; the layer that writes
// the reply words the message (what happened and what to do).

/** HTTP errors of the subscriber side; the body is {"error":"<code>","message":"<human text>"}. */
export const HTTP_ERRORS = {
  bad_request: { status: 400, engine: true, when: 'malformed HTTP, or an invalid /poll parameter' },
  forbidden: { status: 403, engine: false, when: '--secret is set and the token is missing, wrong or expired' },
  not_found: { status: 404, engine: false, when: 'no such path' },
  method_not_allowed: { status: 405, engine: false, when: 'wrong method for the path' },
  payload_too_large: { status: 413, engine: true, when: 'a request body over 64 KiB (the server reads none)' },
  headers_too_large: { status: 431, engine: true, when: 'a request head over 8192 bytes' },
  not_implemented: { status: 501, engine: true, when: 'Transfer-Encoding in a request' },
  service_unavailable: { status: 503, engine: true, when: 'past --max-connections or the open-file limit' },
} as const satisfies Record<string, { status: number; engine: boolean; when: string }>;
// `engine: true` marks the codes the native engine answers by itself, before
// any JavaScript sees the request (bad_request: for malformed HTTP only).

export type HttpErrorCode = keyof typeof HTTP_ERRORS;

/** The JSON error body PROTOCOL.md prescribes for the HTTP side. */
export function httpErrorBody(code: HttpErrorCode, message: string): string {
  return JSON.stringify({ error: code, message });
}

/** Errors of the app side; the reply is {"ok":false,"error":"<code>","message":"<human text>"}. */
export const APP_ERRORS = {
  bad_json: { when: 'the line is not valid JSON, or not valid UTF-8' },
  bad_request: { when: 'valid JSON but not a valid request: not an object, a missing or invalid field (a bad group name included), client and clients together' },
  unknown_op: { when: 'op is not one of send, status, stats, auth, join, leave, publish, group' },
  too_large: { when: 'data is over --max-message bytes, or the line is over --max-line (4096 bytes before auth with --app-secret); then the connection is closed' },
  queue_full: { when: 'a recipient already has --max-queue unacknowledged messages; nothing was queued' },
  memory_full: { when: 'the server holds --max-memory bytes of queued messages and client state; nothing was queued' },
  unknown_group: { when: 'publish, leave or group names a group no client is in' },
  not_member: { when: 'leave names a client that is not in the group; nothing was changed' },
  too_many_groups: { when: 'join would put a client in more than 100 groups; nothing was changed' },
  unauthorized: { when: '--app-secret is set and this connection has not authenticated (closed after 10 s without auth)' },
  store_unavailable: { when: 'with --redis: Redis cannot be reached or failed the call; nothing was queued, unless the message says the answer was lost (then it may have been)' },
  unsupported: { when: 'with --redis: join, leave, publish and group (groups are not shared between nodes yet)' },
} as const satisfies Record<string, { when: string }>;

export type AppErrorCode = keyof typeof APP_ERRORS;

/** A request refused on the app side: the code, and the human text that goes with it. */
export interface AppError {
  readonly code: AppErrorCode;
  readonly message: string;
}
