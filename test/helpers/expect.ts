// Assertions shared by the protocol tests, each one rule of PROTOCOL.md.
import type { Test } from 'tap';
import type { AppReply } from './app-client.js';
import type { HttpResponse } from './http-client.js';
import { errorBody, pollBody, type ErrorBody, type PollBody } from './poll.js';

/**
 * `text` made safe for an assertion message: non-ASCII escaped (a raw U+2028
 * would break the TAP stream itself) and cut to `max` characters.
 */
export function show(text: string, max = 300): string {
  const cut = text.length > max ? `${text.slice(0, max)}...` : text;
  return cut.replace(/[^\x20-\x7e]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** §1 Cross-origin: every response, errors included, carries Access-Control-Allow-Origin. */
export function expectCors(t: Test, res: HttpResponse, origin = '*'): void {
  t.equal(res.headers['access-control-allow-origin'], origin, `${res.status} response carries Access-Control-Allow-Origin: ${origin}`);
}

/** §1 Other requests: error bodies are JSON {"error","message"}; status, CORS and framing checked too. */
export function expectJsonError(t: Test, res: HttpResponse, status: number, origin = '*'): ErrorBody | undefined {
  t.equal(res.status, status, `status is ${status} (got ${res.status} ${show(res.text)})`);
  expectCors(t, res, origin);
  t.match(res.headers['content-type'] ?? '', /^application\/json/, 'error body is served as JSON');
  t.equal(res.headers['content-length'], String(res.body.length), 'Content-Length matches the body');
  try {
    const body = errorBody(res.text);
    t.ok(body.error.length > 0, `error code is a non-empty string (${body.error})`);
    t.ok(body.message.length > 0, 'message is a non-empty string');
    return body;
  } catch (err) {
    t.fail((err as Error).message);
    return undefined;
  }
}

/** §1 Response: a valid poll is 200 JSON with no-store, Content-Length and CORS; returns the parsed body. */
export function expectPollResponse(t: Test, res: HttpResponse, origin = '*'): PollBody {
  t.equal(res.status, 200, `poll answered 200 (got ${res.status} ${show(res.text)})`);
  t.equal(res.headers['content-type'], 'application/json; charset=utf-8', 'Content-Type: application/json; charset=utf-8');
  t.equal(res.headers['cache-control'], 'no-store', 'Cache-Control: no-store');
  t.equal(res.headers['content-length'], String(res.body.length), 'Content-Length is set and matches the body');
  expectCors(t, res, origin);
  return pollBody(res);
}

/** An empty poll answer echoing `since`. */
export function expectEmptyPoll(t: Test, res: HttpResponse, since: number, origin = '*'): void {
  const body = expectPollResponse(t, res, origin);
  t.equal(body.cursor, since, `empty response echoes since (${since})`);
  t.same(body.messages, [], 'messages is empty');
}

/** §2 Errors: {"ok":false,"error":CODE,"message":TEXT}. */
export function expectAppError(t: Test, reply: AppReply, code: string): void {
  t.equal(reply.ok, false, `refused: ${show(JSON.stringify(reply), 200)}`);
  t.equal(reply.error, code, `error code ${code}`);
  t.type(reply.message, 'string', 'with a human message');
}
