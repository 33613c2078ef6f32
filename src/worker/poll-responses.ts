// The JSONP form of an error body (the JSON form is errors.ts's errorBody).
import type { HttpErrorKind } from '../errors.js';
import { wrapJsonp } from './jsonp.js';

/** The JSONP form of an error: status moves into the body because the HTTP status is 200. */
export function jsonpErrorBody(callback: string, kind: HttpErrorKind, message: string): string {
  return wrapJsonp(callback, JSON.stringify({ error: kind.code, message, status: kind.status }));
}
