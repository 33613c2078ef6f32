// JSONP framing (PROTOCOL.md section 1): the callback rule and the wrapper.

import type { HttpErrorCode } from './errors.js';
import { HTTP_ERRORS } from './errors.js';

const CALLBACK = /^[A-Za-z_$][A-Za-z0-9_$.]{0,63}$/;

/** The rule in words, for error messages. */
export const CALLBACK_RULE = '^[A-Za-z_$][A-Za-z0-9_$.]{0,63}$';

export function isValidCallback(name: string): boolean {
  return CALLBACK.test(name);
}

const LINE_SEPARATORS = /[\u2028\u2029]/g;

function escapeSeparator(ch: string): string {
  return ch === '\u2028' ? '\\u2028' : '\\u2029';
}

/**
 * Wraps a JSON text as `/**\/FN(json);`; `callback` must have passed
 * isValidCallback(). U+2028 and U+2029 can only stand inside JSON strings,
 * where the escapes mean the same characters; older JavaScript engines would
 * end a string literal at the raw ones. The leading comment defuses the
 * Rosetta-Flash style of content sniffing.
 */
export function wrapJsonp(callback: string, json: string): string {
  return `/**/${callback}(${json.replace(LINE_SEPARATORS, escapeSeparator)});`;
}

/** The JSONP form of an error: the status moves into the body because the HTTP status is 200. */
export function jsonpErrorBody(callback: string, code: HttpErrorCode, message: string): string {
  return wrapJsonp(callback, JSON.stringify({ error: code, message, status: HTTP_ERRORS[code].status }));
}
