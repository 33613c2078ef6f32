// Every error code the app port answers with (PROTOCOL.md section 2), with
// its meaning in one line. The docs table is generated from / checked against
// this object: add a code here first, never only in a reply.

export const APP_ERRORS = {
  bad_json: 'The line is not valid JSON.',
  bad_request: 'The line is JSON but not a valid request: not an object, or a field is missing or invalid, or client and clients are both given.',
  unknown_op: 'The "op" is not one of send, status, stats, auth.',
  too_large: 'The "data" value is over --max-message bytes, or the line is over --max-line bytes (then the connection is closed).',
  queue_full: 'A recipient already has --max-queue unacknowledged messages; nothing was queued.',
  unauthorized: 'The server has --app-secret and this connection has not sent a successful auth yet (or the secret was wrong).',
} as const;

export type AppErrorCode = keyof typeof APP_ERRORS;

/** A request that gets an error reply. */
export interface AppError {
  code: AppErrorCode;
  message: string;
}
