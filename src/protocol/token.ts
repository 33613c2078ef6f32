// Subscriber tokens (PROTOCOL.md section 3). The app signs them with this
// module and hands one to each subscriber; the server verifies them with the
// same code, so the two can never disagree on the format.
//
//   without expiry:  TOKEN = base64url(HMAC-SHA256(secret, ID))                  (unpadded)
//   with expiry:     TOKEN = EXP "." base64url(HMAC-SHA256(secret, ID "." EXP))  (EXP: Unix seconds)

import { createHmac, timingSafeEqual } from 'node:crypto';

/** A base64url HMAC-SHA256 without padding is always 43 characters. */
const SIGNATURE_LENGTH = 43;
/** EXP as written by signToken: a non-negative integer, no sign or leading zero, below 2^53. */
const EXPIRY = /^(?:0|[1-9][0-9]{0,15})$/;

function sign(secret: string, text: string): string {
  return createHmac('sha256', secret).update(text, 'utf8').digest('base64url');
}

/**
 * The token that lets `client` poll a server started with `--secret secret`.
 * With `expiresAt` (Unix seconds) the token is refused from that second on.
 */
export function signToken(secret: string, client: string, expiresAt?: number): string {
  if (expiresAt === undefined) return sign(secret, client);
  if (!Number.isSafeInteger(expiresAt) || expiresAt < 0) {
    throw new RangeError(`expiresAt must be a Unix time in whole seconds (a non-negative integer), got ${expiresAt}`);
  }
  const exp = String(expiresAt);
  return `${exp}.${sign(secret, `${client}.${exp}`)}`;
}

/**
 * Whether `token` was signed with `secret` for `client` and has not expired
 * at `nowSeconds` (an EXP token is valid while nowSeconds < EXP). The
 * signature is compared in constant time; a malformed token is simply false.
 */
export function verifyToken(secret: string, client: string, token: string, nowSeconds: number): boolean {
  const dot = token.indexOf('.');
  let signed: string;
  let signature: string;
  if (dot < 0) {
    signed = client;
    signature = token;
  } else {
    const exp = token.slice(0, dot);
    if (!EXPIRY.test(exp) || Number(exp) <= nowSeconds) return false;
    signed = `${client}.${exp}`;
    signature = token.slice(dot + 1);
  }
  // The length is public (always 43), so checking it first leaks nothing and
  // keeps timingSafeEqual, which throws on a length mismatch, safe.
  if (signature.length !== SIGNATURE_LENGTH) return false;
  // UTF-8, not latin1: latin1 would fold a non-ASCII character onto an ASCII one.
  const expected = Buffer.from(sign(secret, signed), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  return given.length === SIGNATURE_LENGTH && timingSafeEqual(expected, given);
}
