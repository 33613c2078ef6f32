// Reply lines of the app port. Replies are built as text so that `ref` goes
// back exactly as the app wrote it (JSON.stringify would re-serialise it).

import type { AppError } from './app-errors.js';

/** `json` is a serialised object; appends "ref" (raw JSON text) when the request had one, and the line end. */
export function replyLine(json: string, ref: string | undefined): string {
  if (ref === undefined) return json + '\n';
  return `${json.slice(0, -1)},"ref":${ref}}\n`;
}

export function errorLine(error: AppError, ref: string | undefined): string {
  return replyLine(`{"ok":false,"error":${JSON.stringify(error.code)},"message":${JSON.stringify(error.message)}}`, ref);
}

/** The reply to a line over --max-line, after which the connection is closed. */
export function lineTooLargeLine(maxLine: number): string {
  return errorLine(
    { code: 'too_large', message: `the line is over ${maxLine} bytes (--max-line); the connection is closed` },
    undefined,
  );
}
