// The baseline's subscriber side: node:http, one request handler, PROTOCOL.md section 1.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ClientStore } from './client-store.js';

const CLIENT_ID = /^[A-Za-z0-9_:-]{1,64}$/;
const CURSOR = /^(0|[1-9][0-9]{0,15})$/;
const CALLBACK = /^[A-Za-z_$][A-Za-z0-9_$.]{0,63}$/;
const BAD_PERCENT = /%(?![0-9A-Fa-f]{2})/;
const CORS_ORIGIN = '*';

function send(res: ServerResponse, status: number, contentType: string, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'Access-Control-Allow-Origin': CORS_ORIGIN,
    ...extra,
  });
  res.end(body);
}

function jsonpBody(callback: string, json: string): string {
  return `/**/${callback}(${json.replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029')});`;
}

/** Writes a poll answer; used for immediate answers, deliveries and timeouts alike. */
export function writePoll(res: ServerResponse, cursor: number, messages: readonly string[], callback: string | null): void {
  if (res.writableEnded || res.destroyed) return;
  const json = `{"cursor":${cursor},"messages":[${messages.join(',')}]}`;
  if (callback === null) {
    send(res, 200, 'application/json; charset=utf-8', json);
  } else {
    send(res, 200, 'application/javascript; charset=utf-8', jsonpBody(callback, json), { 'X-Content-Type-Options': 'nosniff' });
  }
}

function error(res: ServerResponse, status: number, code: string, message: string, callback: string | null = null): void {
  if (callback !== null && (status === 400 || status === 403)) {
    const json = JSON.stringify({ error: code, message, status });
    send(res, 200, 'application/javascript; charset=utf-8', jsonpBody(callback, json), { 'X-Content-Type-Options': 'nosniff' });
    return;
  }
  send(res, status, 'application/json; charset=utf-8', JSON.stringify({ error: code, message }));
}

function handlePoll(store: ClientStore, req: IncomingMessage, res: ServerResponse, query: string): void {
  if (BAD_PERCENT.test(query)) {
    error(res, 400, 'bad_request', 'the query has bad percent-encoding');
    return;
  }
  const params = new URLSearchParams(query);
  const callbacks = params.getAll('callback');
  if (callbacks.length > 1 || (callbacks.length === 1 && !CALLBACK.test(callbacks[0] as string))) {
    error(res, 400, 'bad_request', 'callback must appear once and be a JavaScript identifier path');
    return;
  }
  const callback = callbacks[0] ?? null;
  const clients = params.getAll('client');
  const sinces = params.getAll('since');
  if (clients.length !== 1 || !CLIENT_ID.test(clients[0] as string)) {
    error(res, 400, 'bad_request', 'client is required once: 1-64 characters of [A-Za-z0-9_:-]', callback);
    return;
  }
  let since = 0;
  if (sinces.length > 1) {
    error(res, 400, 'bad_request', 'since may appear once', callback);
    return;
  }
  const sinceText = sinces[0] ?? '';
  if (sinceText !== '') {
    if (!CURSOR.test(sinceText) || Number(sinceText) >= 2 ** 53) {
      error(res, 400, 'bad_request', 'since must be the cursor of the last answer: digits, no leading zero', callback);
      return;
    }
    since = Number(sinceText);
  }
  if (req.method !== 'GET') {
    error(res, 405, 'method_not_allowed', 'use GET on /poll');
    return;
  }
  store.poll(clients[0] as string, since, res, callback);
}

/** Creates the subscriber server; the caller listens. */
export function createHttpSide(store: ClientStore, keepAliveTimeoutSeconds: number): Server {
  // maxHeaderSize: node answers a larger head with 431 (PROTOCOL.md's limit is 8192 bytes).
  const server = createServer({ maxHeaderSize: 8192 }, (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? '' : url.slice(q + 1);
    if (path === '/poll') {
      if (req.method === 'OPTIONS') {
        res.writeHead(204, {
          'Access-Control-Allow-Origin': CORS_ORIGIN,
          'Access-Control-Allow-Methods': 'GET, OPTIONS',
          'Access-Control-Allow-Headers': req.headers['access-control-request-headers'] ?? '',
          'Access-Control-Max-Age': '86400',
        });
        res.end();
        return;
      }
      if (req.method !== 'GET') {
        error(res, 405, 'method_not_allowed', 'use GET on /poll');
        return;
      }
      handlePoll(store, req, res, query);
      return;
    }
    if (path === '/health') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        error(res, 405, 'method_not_allowed', 'use GET or HEAD on /health');
        return;
      }
      send(res, 200, 'text/plain; charset=utf-8', 'ok');
      return;
    }
    error(res, 404, 'not_found', `no such path: ${path}`);
  });
  server.keepAliveTimeout = keepAliveTimeoutSeconds * 1000;
  // A held poll is a complete request: node's request timeout does not cut it; the head timeout
  // matches PROTOCOL.md's 10 s.
  server.headersTimeout = 10_000;
  return server;
}
