// Whether another process still lives: the takeover's two sides use it to
// tell "the peer died" from "the peer went on without me" when their control
// connection breaks (docs/ARCHITECTURE.md, "Restart without losing a message").

import { readFileSync } from 'node:fs';

/**
 * Whether process `pid` exists and has not exited. kill(pid, 0) alone also
 * answers yes for a zombie (exited, not yet reaped by its parent), so on
 * Linux /proc tells those apart.
 */
export function isAlive(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true;
  }
}

/** Whether `pid` is gone, or goes within `withinMs` (a process whose sockets just closed may still be exiting). */
export async function hasExited(pid: number, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}
