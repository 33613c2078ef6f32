// The kernel's view of TCP sockets (/proc/net/tcp), for the server's side of
// connections whose client cannot see the close itself: a client that has
// stopped reading gets the server's FIN only after all the data queued before
// it, but the server's socket leaves ESTABLISHED the moment the server closes.
import { readFileSync } from 'node:fs';

/** States from include/net/tcp_states.h. */
export const TCP_ESTABLISHED = 1;

/**
 * The state of every IPv4 socket whose local port is `localPort`, by remote
 * port (for a server's port: the server's side of each connection, by client
 * port). A connection the kernel has forgotten is absent.
 */
export function tcpStatesByRemotePort(localPort: number): Map<number, number> {
  const states = new Map<number, number>();
  const text = readFileSync('/proc/net/tcp', 'utf8');
  for (const line of text.split('\n').slice(1)) {
    // "  sl  local_address rem_address   st ..." e.g. "0: 0100007F:1F90 0100007F:D2F4 01 ..."
    const fields = line.trim().split(/\s+/);
    if (fields.length < 4) continue;
    const [, local, remote, state] = fields;
    const lp = local?.split(':')[1];
    const rp = remote?.split(':')[1];
    if (lp === undefined || rp === undefined || state === undefined) continue;
    if (parseInt(lp, 16) !== localPort) continue;
    states.set(parseInt(rp, 16), parseInt(state, 16));
  }
  return states;
}
