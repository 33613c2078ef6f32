// Bodies the worker writes itself: the empty poll answer and error bodies,
// each in its JSON and JSONP form.
import { errorBody, type HttpErrorKind } from '../errors.js';
import { wrapJsonp } from './jsonp.js';

export function emptyPollBody(since: number): string {
  return `{"cursor":${since},"messages":[]}`;
}

/** The JSONP form of an error: status moves into the body because the HTTP status is 200. */
export function jsonpErrorBody(callback: string, kind: HttpErrorKind, message: string): string {
  return wrapJsonp(callback, JSON.stringify({ error: kind.code, message, status: kind.status }));
}

export { errorBody };
