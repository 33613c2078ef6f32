// One app line -> a validated request or the error to answer it with
// (PROTOCOL.md section 2). Pure: no sockets, no manager, so every rule is
// testable with strings.

import type { AppError, AppErrorCode } from '../protocol/errors.js';
import { CLIENT_ID_RULE, isClientIdChar, isValidClientId, MAX_CLIENT_ID_BYTES } from '../protocol/client-id.js';
import { rawMembers } from './json-span.js';
import { GROUP_NAME_RULE, isValidGroupName } from '../protocol/group-name.js';

/** Recipients one send may name at most; also clients one join or leave may name, and members one group query may list. */
export const MAX_RECIPIENTS = 10_000;

export type AppRequest =
  | { op: 'send'; client: string; data: string }
  | { op: 'sendMany'; clients: string[]; data: string }
  | { op: 'status'; client: string }
  | { op: 'stats' }
  | { op: 'auth'; secret: string }
  /** join and leave with "client" carry a list of one. */
  | { op: 'join' | 'leave'; clients: string[]; group: string }
  | { op: 'publish'; group: string; data: string }
  /** `limit`: how many member ids to list; undefined when the request asked for none. */
  | { op: 'group'; group: string; limit: number | undefined };

export type ParsedLine =
  /** `ref` is the raw JSON text of the request's "ref", or undefined. */
  | { ok: true; request: AppRequest; ref: string | undefined }
  | { ok: false; error: AppError; ref: string | undefined };

export interface ParseOptions {
  /** The most bytes the "data" value's text may have (--max-message). */
  maxMessage: number;
  /** False while the connection still owes a successful auth (--app-secret). */
  authorized: boolean;
}

/** Every op, for error messages. */
const OPS = 'send, status, stats, auth, join, leave, publish, group';

const RAW_NAMES: ReadonlySet<string> = new Set(['data', 'ref']);

type JsonObject = { [key: string]: unknown };

/** Parses one line (without its line end, not blank). */
export function parseAppLine(line: string, options: ParseOptions): ParsedLine {
  if (options.authorized) {
    const fast = parseCommonSend(line, options.maxMessage);
    if (fast !== null) return fast;
  }
  return parseAnyLine(line, options);
}

const SEND_PREFIX = '{"op":"send","client":"';
const DATA_KEY = '","data":';

/**
 * The fast path for the line nearly every app sends, exactly
 * {"op":"send","client":"ID","data":VALUE} (whitespace allowed only around
 * VALUE and after the closing brace): the line is valid JSON if and only if
 * VALUE is, so JSON.parse judges VALUE alone and no second scan is needed to
 * find its raw text. Returns null for anything else, which then takes the
 * full path; where it answers, its answer is the full path's (test/app-fast-send.ts).
 */
export function parseCommonSend(line: string, maxMessage: number): ParsedLine | null {
  if (!line.startsWith(SEND_PREFIX)) return null;
  const idStart = SEND_PREFIX.length;
  let i = idStart;
  const idLimit = Math.min(line.length, idStart + MAX_CLIENT_ID_BYTES);
  while (i < idLimit && isClientIdChar(line.charCodeAt(i))) i++;
  // An id that is empty, too long or has other characters (escapes included) is for the full path to judge.
  if (i === idStart || !line.startsWith(DATA_KEY, i)) return null;
  // A slice is fine: the manager keeps a client's id as bytes in its client table, never this string.
  const client = line.slice(idStart, i);
  let start = i + DATA_KEY.length;
  let end = line.length;
  while (end > start && isJsonWhitespace(line.charCodeAt(end - 1))) end--;
  if (line.charCodeAt(end - 1) !== CLOSE_BRACE) return null;
  end--;
  while (start < end && isJsonWhitespace(line.charCodeAt(start))) start++;
  while (end > start && isJsonWhitespace(line.charCodeAt(end - 1))) end--;
  if (start === end) return null;
  const data = line.slice(start, end);
  try {
    // Only for validation: VALUE followed by more members ("ref", a second "data") is not one value and lands here too.
    JSON.parse(data);
  } catch {
    return null;
  }
  if (data.length * 3 > maxMessage) {
    const bytes = Buffer.byteLength(data, 'utf8');
    if (bytes > maxMessage) {
      return fail('too_large', `"data" is ${bytes} bytes, over the limit of ${maxMessage} (--max-message)`, undefined);
    }
  }
  return { ok: true, request: { op: 'send', client, data }, ref: undefined };
}

const CLOSE_BRACE = 0x7d;

function isJsonWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** The full path: any line, any request (exported, like parseCommonSend, for test/app-fast-send.ts). */
export function parseAnyLine(line: string, options: ParseOptions): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    const detail = (err as Error).message.slice(0, 200);
    return fail('bad_json', `the line is not valid JSON (${detail}); send one JSON object per line`, undefined);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('bad_request', 'the line is JSON but not an object; send one object such as {"op":"stats"} per line', undefined);
  }
  const obj = value as JsonObject;
  const needsRaw = Object.hasOwn(obj, 'ref') || ((obj.op === 'send' || obj.op === 'publish') && Object.hasOwn(obj, 'data'));
  const raw = needsRaw ? rawMembers(line, RAW_NAMES) : undefined;
  const ref = raw?.get('ref');
  if (!options.authorized && obj.op !== 'auth') {
    return fail('unauthorized', 'this server requires {"op":"auth","secret":...} on the connection first', ref);
  }
  const op = obj.op;
  if (op === undefined) return fail('bad_request', `"op" is missing; expected one of ${OPS}`, ref);
  if (typeof op !== 'string') return fail('bad_request', `"op" must be a string: one of ${OPS}`, ref);
  switch (op) {
    case 'send':
      return parseSend(obj, raw?.get('data'), options.maxMessage, ref);
    case 'status':
      if (!isValidClientId(obj.client)) return fail('bad_request', `"client" must be ${CLIENT_ID_RULE}`, ref);
      return { ok: true, request: { op: 'status', client: obj.client }, ref };
    case 'stats':
      return { ok: true, request: { op: 'stats' }, ref };
    case 'auth':
      if (typeof obj.secret !== 'string') return fail('bad_request', '"secret" must be a string', ref);
      return { ok: true, request: { op: 'auth', secret: obj.secret }, ref };
    case 'join':
    case 'leave':
      return parseMembership(op, obj, ref);
    case 'publish':
      return parsePublish(obj, raw?.get('data'), options.maxMessage, ref);
    case 'group':
      return parseGroupQuery(obj, ref);
    default:
      return fail('unknown_op', `unknown op ${JSON.stringify(op.slice(0, 64))}; expected one of ${OPS}`, ref);
  }
}

function parseSend(obj: JsonObject, data: string | undefined, maxMessage: number, ref: string | undefined): ParsedLine {
  const hasClient = Object.hasOwn(obj, 'client');
  const hasClients = Object.hasOwn(obj, 'clients');
  if (hasClient && hasClients) return fail('bad_request', 'give either "client" or "clients", not both', ref);
  if (!hasClient && !hasClients) return fail('bad_request', '"client" (or "clients", a list) is required', ref);
  let recipients: string | string[];
  if (hasClient) {
    if (!isValidClientId(obj.client)) return fail('bad_request', `"client" must be ${CLIENT_ID_RULE}`, ref);
    recipients = obj.client;
  } else {
    const checked = checkClients(obj.clients);
    if (typeof checked === 'string') return fail('bad_request', checked, ref);
    recipients = checked;
  }
  if (data === undefined) return fail('bad_request', '"data" is required (any JSON value)', ref);
  // Every UTF-16 unit is at least one UTF-8 byte and at most three, so the exact count is needed only in between.
  if (data.length * 3 > maxMessage) {
    const bytes = Buffer.byteLength(data, 'utf8');
    if (bytes > maxMessage) {
      return fail('too_large', `"data" is ${bytes} bytes, over the limit of ${maxMessage} (--max-message)`, ref);
    }
  }
  return typeof recipients === 'string'
    ? { ok: true, request: { op: 'send', client: recipients, data }, ref }
    : { ok: true, request: { op: 'sendMany', clients: recipients, data }, ref };
}

/** "group", or what is wrong with it. */
function checkGroup(value: unknown): string | { error: string } {
  if (value === undefined) return { error: '"group" is required' };
  if (!isValidGroupName(value)) return { error: `"group" must be ${GROUP_NAME_RULE}` };
  return value;
}

function parseMembership(op: 'join' | 'leave', obj: JsonObject, ref: string | undefined): ParsedLine {
  const hasClient = Object.hasOwn(obj, 'client');
  const hasClients = Object.hasOwn(obj, 'clients');
  if (hasClient && hasClients) return fail('bad_request', 'give either "client" or "clients", not both', ref);
  if (!hasClient && !hasClients) return fail('bad_request', '"client" (or "clients", a list) is required', ref);
  let clients: string[];
  if (hasClient) {
    if (!isValidClientId(obj.client)) return fail('bad_request', `"client" must be ${CLIENT_ID_RULE}`, ref);
    clients = [obj.client];
  } else {
    const checked = checkClients(obj.clients);
    if (typeof checked === 'string') return fail('bad_request', checked, ref);
    clients = checked;
  }
  const group = checkGroup(obj.group);
  if (typeof group !== 'string') return fail('bad_request', group.error, ref);
  return { ok: true, request: { op, clients, group }, ref };
}

function parsePublish(obj: JsonObject, data: string | undefined, maxMessage: number, ref: string | undefined): ParsedLine {
  const group = checkGroup(obj.group);
  if (typeof group !== 'string') return fail('bad_request', group.error, ref);
  if (data === undefined) return fail('bad_request', '"data" is required (any JSON value)', ref);
  if (data.length * 3 > maxMessage) {
    const bytes = Buffer.byteLength(data, 'utf8');
    if (bytes > maxMessage) {
      return fail('too_large', `"data" is ${bytes} bytes, over the limit of ${maxMessage} (--max-message)`, ref);
    }
  }
  return { ok: true, request: { op: 'publish', group, data }, ref };
}

function parseGroupQuery(obj: JsonObject, ref: string | undefined): ParsedLine {
  const group = checkGroup(obj.group);
  if (typeof group !== 'string') return fail('bad_request', group.error, ref);
  const limit: unknown = obj.limit;
  if (limit !== undefined && !(Number.isInteger(limit) && (limit as number) >= 0 && (limit as number) <= MAX_RECIPIENTS)) {
    return fail('bad_request', `"limit" must be a whole number from 0 to ${MAX_RECIPIENTS}: how many member ids to list`, ref);
  }
  return { ok: true, request: { op: 'group', group, limit: limit as number | undefined }, ref };
}

/** The recipients, or what is wrong with them. */
function checkClients(value: unknown): string[] | string {
  if (!Array.isArray(value)) return '"clients" must be a list of client ids';
  if (value.length === 0 || value.length > MAX_RECIPIENTS) {
    return `"clients" must name 1 to ${MAX_RECIPIENTS} clients, got ${value.length}`;
  }
  const seen = new Set<string>();
  for (let i = 0; i < value.length; i++) {
    const client: unknown = value[i];
    if (!isValidClientId(client)) return `"clients"[${i}] must be ${CLIENT_ID_RULE}`;
    if (seen.has(client)) return `"clients"[${i}] repeats ${client}; each client may appear once`;
    seen.add(client);
  }
  return value as string[];
}

function fail(code: AppErrorCode, message: string, ref: string | undefined): ParsedLine {
  return { ok: false, error: { code, message }, ref };
}
