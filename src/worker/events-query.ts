// Validation of GET /events (PROTOCOL.md "GET /events"): its query string and
// its Last-Event-ID header, as a pure function so every rule is
// unit-testable without sockets. The query follows /poll's rules (unknown
// parameters ignored, percent-decoding, a repeated known parameter is a
// 400); there is no callback (an EventSource cannot use JSONP).
//
// The cursor is the largest of `since`, `lastEventId` (what EventSource
// polyfills send on reconnect) and the Last-Event-ID header (what a native
// EventSource sends): each names messages the client already has, so the
// largest is right, and an absent or empty one counts as 0.
import { CLIENT_ID_RULE, isValidClientId } from '../protocol/client-id.js';
import { CURSOR_RULE, parseCursor } from '../protocol/cursor.js';
import { decodeQueryPart } from './poll-query.js';

export interface EventsParams {
  readonly client: string;
  /** 0 when no cursor was given. */
  readonly since: number;
  readonly token: string | undefined;
}

export type EventsQueryResult = { ok: true; params: EventsParams } | { ok: false; message: string };

type Known = 'client' | 'since' | 'token' | 'lastEventId';
const KNOWN: ReadonlySet<string> = new Set<Known>(['client', 'since', 'token', 'lastEventId']);

/** Parses the part of the request-target after '?' and the Last-Event-ID header ('' when absent). */
export function parseEventsQuery(query: string, lastEventIdHeader: string): EventsQueryResult {
  const values: Partial<Record<Known, string>> = {};
  for (const part of query.split('&')) {
    if (part.length === 0) continue;
    const eq = part.indexOf('=');
    const key = decodeQueryPart(eq === -1 ? part : part.slice(0, eq));
    const value = decodeQueryPart(eq === -1 ? '' : part.slice(eq + 1));
    if (key === undefined || value === undefined) return fail('the query string has bad percent-encoding');
    if (!KNOWN.has(key)) continue;
    if (values[key as Known] !== undefined) return fail(`parameter "${key}" is repeated`);
    values[key as Known] = value;
  }
  const client = values.client;
  if (client === undefined || client.length === 0) return fail('parameter "client" is required');
  if (!isValidClientId(client)) return fail(`parameter "client" must be ${CLIENT_ID_RULE}`);
  let since = 0;
  for (const [name, raw] of [
    ['parameter "since"', values.since],
    ['parameter "lastEventId"', values.lastEventId],
    ['header Last-Event-ID', lastEventIdHeader],
  ] as const) {
    if (raw === undefined || raw.length === 0) continue;
    const cursor = parseCursor(raw);
    if (cursor === undefined) return fail(`${name} must be ${CURSOR_RULE}`);
    if (cursor > since) since = cursor;
  }
  return { ok: true, params: { client, since, token: values.token } };
}

function fail(message: string): EventsQueryResult {
  return { ok: false, message };
}
