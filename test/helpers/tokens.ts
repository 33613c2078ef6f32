// Subscriber tokens computed straight from PROTOCOL.md section 3 with
// node:crypto, independently of the project's own signing code, so a bug there
// cannot hide itself in these tests.
import { createHmac } from 'node:crypto';

/** base64url(HMAC-SHA256(secret, message)), unpadded. */
function sign(secret: string, message: string): string {
  return createHmac('sha256', secret).update(message, 'utf8').digest('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** TOKEN for `client`; with `exp` (Unix seconds) the expiring form EXP.SIG. */
export function tokenFor(secret: string, client: string, exp?: number): string {
  if (exp === undefined) return sign(secret, client);
  return `${exp}.${sign(secret, `${client}.${exp}`)}`;
}
