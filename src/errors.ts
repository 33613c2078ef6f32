// The HTTP error codes of the subscriber side, in one place. The bodies are
// {"error":"<code>","message":"<human text>"} (PROTOCOL.md section 1). The
// engine answers the HTTP-level ones itself (native/http_errors.h mirrors the
// rows marked "engine"); the worker answers the rest. docs/PROTOCOL.md lists
// this table for users. App-side (TCP) codes live in src/manager/app-errors.ts.

export const HttpError = {
  /** 400: a malformed request or an invalid /poll parameter. */
  badRequest: { status: 400, code: 'bad_request' },
  /** 403: --secret is set and the token is missing, wrong or expired. */
  forbidden: { status: 403, code: 'forbidden' },
  /** 404: no such path (only /poll and /health exist). */
  notFound: { status: 404, code: 'not_found' },
  /** 405: the path exists but not with this method. */
  methodNotAllowed: { status: 405, code: 'method_not_allowed' },
  /** 413 (engine): a request body over 64 KiB; the server takes no bodies. */
  payloadTooLarge: { status: 413, code: 'payload_too_large' },
  /** 431 (engine): a request head over 8192 bytes. */
  headerTooLarge: { status: 431, code: 'headers_too_large' },
  /** 501 (engine): Transfer-Encoding in a request. */
  notImplemented: { status: 501, code: 'not_implemented' },
  /** 503 (engine): past --max-connections or the open-file limit. */
  serviceUnavailable: { status: 503, code: 'service_unavailable' },
} as const;

export type HttpErrorKind = (typeof HttpError)[keyof typeof HttpError];

/** The JSON error body PROTOCOL.md prescribes. */
export function errorBody(kind: HttpErrorKind, message: string): string {
  return JSON.stringify({ error: kind.code, message });
}
