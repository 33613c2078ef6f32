// Validation of GET /poll query strings (PROTOCOL.md section 1), as a pure
// function so every rule is unit-testable without sockets.
import { CLIENT_ID_RULE, isValidClientId } from '../protocol/client-id.js';
import { CURSOR_RULE, parseCursor } from '../protocol/cursor.js';
import { flatCopy } from '../protocol/flat-copy.js';
import { CALLBACK_RULE, isValidCallback } from '../protocol/jsonp.js';

export interface PollParams {
  readonly client: string;
  /** 0 when absent. */
  readonly since: number;
  /** A valid JSONP function name, or undefined for plain JSON. */
  readonly callback: string | undefined;
  readonly token: string | undefined;
}

export interface PollQueryError {
  readonly message: string;
  /**
   * The request's single valid callback, if it had one: the error is then
   * answered as a JSONP body with status 200 (browsers do not run a script
   * whose status is not 2xx). Never set for an invalid or repeated callback.
   */
  readonly callback: string | undefined;
}

export type PollQueryResult = { ok: true; params: PollParams } | { ok: false; error: PollQueryError };

/** Percent-decodes one query part; undefined for bad percent-encoding. */
export function decodeQueryPart(raw: string): string | undefined {
  if (raw.indexOf('%') === -1) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

type Known = 'client' | 'since' | 'callback' | 'token';
const KNOWN: ReadonlySet<string> = new Set<Known>(['client', 'since', 'callback', 'token']);

/** Parses the part of the request-target after '?' (empty string when there is none). */
export function parsePollQuery(query: string): PollQueryResult {
  const values: Partial<Record<Known, string>> = {};
  const repeated: Known[] = [];
  let badEncoding: string | undefined;
  let rawCallback: string | undefined;
  let callbackCount = 0;
  for (const part of query.split('&')) {
    if (part.length === 0) continue;
    const eq = part.indexOf('=');
    const rawKey = eq === -1 ? part : part.slice(0, eq);
    const rawValue = eq === -1 ? '' : part.slice(eq + 1);
    const key = decodeQueryPart(rawKey);
    const value = decodeQueryPart(rawValue);
    if (key === undefined || value === undefined) {
      badEncoding ??= rawKey;
      continue;
    }
    if (!KNOWN.has(key)) continue;
    const known = key as Known;
    if (known === 'callback') {
      callbackCount++;
      rawCallback = value;
    }
    if (values[known] !== undefined) repeated.push(known);
    values[known] = value;
  }

  // The callback is settled first: only a single valid one may wrap the errors.
  const callback = callbackCount === 1 && rawCallback !== undefined && isValidCallback(rawCallback) ? rawCallback : undefined;
  if (callbackCount > 1) return fail('parameter "callback" is repeated', undefined);
  if (callbackCount === 1 && callback === undefined) {
    return fail(`parameter "callback" must match ${CALLBACK_RULE}`, undefined);
  }
  if (badEncoding !== undefined) return fail('the query string has bad percent-encoding', callback);
  if (repeated.length > 0) return fail(`parameter "${repeated[0]}" is repeated`, callback);

  const client = values.client;
  if (client === undefined || client.length === 0) return fail('parameter "client" is required', callback);
  if (!isValidClientId(client)) {
    return fail(`parameter "client" must be ${CLIENT_ID_RULE}`, callback);
  }
  let since = 0;
  const rawSince = values.since;
  if (rawSince !== undefined && rawSince.length > 0) {
    const cursor = parseCursor(rawSince);
    if (cursor === undefined) return fail(`parameter "since" must be ${CURSOR_RULE}`, callback);
    since = cursor;
  }
  return {
    ok: true,
    // Only the callback is kept (as long as the poll is held): a copy, so it does not pin the
    // request-target. The client id goes into the POLL record and is not kept by the worker.
    params: { client, since, callback: callback === undefined ? undefined : flatCopy(callback), token: values.token },
  };
}

function fail(message: string, callback: string | undefined): PollQueryResult {
  return { ok: false, error: { message, callback } };
}
