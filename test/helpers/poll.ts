// Reading poll responses (PROTOCOL.md section 1) and running JSONP bodies the
// way a browser would, in a fresh V8 context.
import { runInNewContext } from 'node:vm';
import type { HttpResponse } from './http-client.js';

export interface PollBody {
  cursor: number;
  messages: unknown[];
  [key: string]: unknown;
}

export interface ErrorBody {
  error: string;
  message: string;
  [key: string]: unknown;
}

/** Parses a plain JSON poll body; throws with the body text unless it has a numeric cursor and a messages array. */
export function pollBody(res: HttpResponse): PollBody {
  let value: unknown;
  try {
    value = JSON.parse(res.text);
  } catch {
    throw new Error(`poll body is not JSON (status ${res.status}): ${JSON.stringify(res.text)}`);
  }
  if (!isPollBody(value)) throw new Error(`poll body lacks cursor/messages (status ${res.status}): ${res.text}`);
  return value;
}

export function isPollBody(value: unknown): value is PollBody {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { cursor?: unknown; messages?: unknown };
  return typeof v.cursor === 'number' && Array.isArray(v.messages);
}

export function errorBody(text: string): ErrorBody {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`error body is not JSON: ${JSON.stringify(text)}`);
  }
  const v = value as { error?: unknown; message?: unknown };
  if (typeof value !== 'object' || value === null || typeof v.error !== 'string' || typeof v.message !== 'string') {
    throw new Error(`error body is not {"error":string,"message":string}: ${text}`);
  }
  return value as ErrorBody;
}

/**
 * Runs a JSONP body as a script with a global function `callback` (dotted
 * names become nested objects) and returns the single argument it was called
 * with. Throws if the script is not valid JavaScript or does not call it once.
 */
export function runJsonp(body: string, callback: string): unknown {
  const calls: unknown[] = [];
  const fn = (arg: unknown): void => {
    calls.push(arg);
  };
  const sandbox: Record<string, unknown> = {};
  const parts = callback.split('.');
  let scope = sandbox;
  parts.forEach((part, i) => {
    if (i === parts.length - 1) scope[part] = fn;
    else {
      const inner: Record<string, unknown> = {};
      scope[part] = inner;
      scope = inner;
    }
  });
  runInNewContext(body, sandbox, { timeout: 1000 });
  if (calls.length !== 1) throw new Error(`JSONP body called ${callback} ${calls.length} times: ${body}`);
  // Values built in another context fail deep-equality on prototypes: copy them into this one.
  return JSON.parse(JSON.stringify(calls[0]));
}

/** `/poll?...` from ordered [name, value] pairs, values percent-encoded with encodeURIComponent. */
export function pollTarget(params: Array<[string, string]> | Record<string, string>): string {
  const pairs = Array.isArray(params) ? params : Object.entries(params);
  return `/poll?${pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}`;
}
