// Reply lines of the app port, and the words of its error replies. Replies
// are built as text so that `ref` goes back exactly as the app wrote it
// (JSON.stringify would re-serialise it). The codes come from
// src/protocol/errors.ts; the manager returns codes, this file words them.

import type { AppError } from '../protocol/errors.js';

/** `json` is a serialised object; appends "ref" (raw JSON text) when the request had one, and the line end. */
export function replyLine(json: string, ref: string | undefined): string {
  if (ref === undefined) return json + '\n';
  return `${json.slice(0, -1)},"ref":${ref}}\n`;
}

/** An error reply object's JSON, without line end. */
export function errorJson(error: AppError): string {
  return `{"ok":false,"error":${JSON.stringify(error.code)},"message":${JSON.stringify(error.message)}}`;
}

export function errorLine(error: AppError, ref: string | undefined): string {
  return replyLine(errorJson(error), ref);
}

/** The reply to a line over --max-line, after which the connection is closed. */
export function lineTooLargeLine(maxLine: number): string {
  return errorLine({ code: 'too_large', message: `the line is over ${maxLine} bytes (--max-line); the connection is closed` }, undefined);
}

/** A send refused because `client`'s queue is full. */
export function queueFull(client: string, maxQueue: number): AppError {
  return {
    code: 'queue_full',
    message: `client ${client} already has ${maxQueue} unacknowledged messages (--max-queue); nothing was queued, retry after it polls`,
  };
}

/** A send refused because the memory budget is used up. */
export function memoryFull(maxMemory: number): AppError {
  return {
    code: 'memory_full',
    message: `the server already holds its --max-memory budget (${maxMemory} bytes) of queued messages; nothing was queued, retry after clients poll`,
  };
}

/** A failed auth. */
export const WRONG_SECRET: AppError = {
  code: 'unauthorized',
  message: 'wrong secret; the connection stays open, send auth again with the --app-secret value',
};

/** A publish, leave or group query naming a group without members. */
export function unknownGroup(group: string): AppError {
  return { code: 'unknown_group', message: `no client is in group ${group}; a group exists while it has a member (join one first)` };
}

/** A leave naming a client that is not in the group. */
export function notMember(client: string, group: string): AppError {
  return { code: 'not_member', message: `client ${client} is not in group ${group}; nothing was changed` };
}

/** A join that would put a client in too many groups. */
export function tooManyGroups(client: string, limit: number): AppError {
  return { code: 'too_many_groups', message: `client ${client} is already in ${limit} groups, the most one client may be in; nothing was changed, leave one first` };
}
