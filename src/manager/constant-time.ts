// Secret comparisons whose time does not depend on where the inputs differ.

import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Whether two strings are equal, in time independent of their contents.
 * Both sides are hashed first so inputs of different lengths compare without
 * a length-dependent early exit (timingSafeEqual throws on a length
 * mismatch) and without revealing the secret's length.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}
