// Hands each generator process its own loopback source addresses (127.0.0.2 onwards), so that no
// two processes draw ephemeral ports from the same address, and no address carries more than
// MAX_PER_ADDRESS connections.
const MIN_PER_PROCESS = 4;
const FIRST = 2;
const LAST = 254;
/**
 * Connections per source address at most. Linux hands out the even ports of
 * ip_local_port_range first when the port is chosen at connect() time (IP_BIND_ADDRESS_NO_PORT);
 * past ~30,000 on one address every further connect scans them all, and in the VM the connect
 * rate falls to ~100/s (shared/vm/README.md). 1,000,000 clients take 40 addresses.
 */
export const MAX_PER_ADDRESS = 25_000;
let next = FIRST;

/** Addresses a process of `clients` clients needs: at least 4, and enough for MAX_PER_ADDRESS. */
export function sourceCountFor(clients: number): number {
  return Math.max(MIN_PER_PROCESS, Math.ceil(clients / MAX_PER_ADDRESS));
}

/**
 * Flags for one generator process of `clients` clients (0: a churn process, which closes what it
 * opens): --src-base B --src-count C. Wraps around after 127.0.0.254.
 */
export function nextSourceFlags(clients = 0): string[] {
  const count = sourceCountFor(clients);
  if (count > LAST - FIRST + 1) {
    throw new Error(`${clients} clients in one generator process need ${count} source addresses, more than 127.0.0.${FIRST}-${LAST} hold: use a smaller --per-process`);
  }
  if (next + count - 1 > LAST) next = FIRST;
  const base = next;
  next += count;
  return ['--src-base', String(base), '--src-count', String(count)];
}
