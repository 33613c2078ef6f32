// The event-stream framing of GET /events (PROTOCOL.md "GET /events"), written
// by both threads: the manager frames messages, the worker the stream's
// first bytes and its last event when a newer subscription replaces it.
//
//   id: <message id>\n
//   data: <the message's JSON>\n
//   \n
//
// A JSON text has a line break only as whitespace between tokens (never
// inside a string), and an event's data may not contain one: each line of it
// becomes its own data: line, which EventSource joins back with \n. So a
// message arrives byte for byte unless it had \r line breaks, which become
// \n: the same JSON value.

/** The reconnect delay suggested to EventSource (its `retry:` field), ms. */
export const SSE_RETRY_MS = 2000;

/** The stream's first bytes: the retry hint. */
export const SSE_OPENING = `retry: ${SSE_RETRY_MS}\n\n`;

/** The event name of the last event on a stream a newer subscription of its client replaced. */
export const SSE_REPLACED_EVENT = 'replaced';

/** The last event of a stream a newer subscription (an /events or /poll of the same client) replaced. */
export const SSE_REPLACED =
  `event: ${SSE_REPLACED_EVENT}\n` +
  'data: {"error":"replaced","message":"a newer subscription of this client replaced this stream; do not reconnect it"}\n\n';

const LINE_BREAK = /\r\n|\r|\n/;

/** One message as an event. */
export function sseEvent(id: number, data: string): string {
  if (!LINE_BREAK.test(data)) return `id: ${id}\ndata: ${data}\n\n`;
  return `id: ${id}\ndata: ${data.split(LINE_BREAK).join('\ndata: ')}\n\n`;
}
