// Hands each generator process its own loopback source addresses (127.0.0.2 onwards, 4 each), so
// that no two processes draw ephemeral ports from the same address.
const PER_PROCESS = 4;
const FIRST = 2;
const LAST = 254;
let next = FIRST;

/** Flags for one generator process: --src-base B --src-count 4. Wraps around after 127.0.0.254. */
export function nextSourceFlags(): string[] {
  if (next + PER_PROCESS - 1 > LAST) next = FIRST;
  const base = next;
  next += PER_PROCESS;
  return ['--src-base', String(base), '--src-count', String(PER_PROCESS)];
}
