// Waiting until the server really holds the polls the generators have sent.
import type { PollerFleet } from '../lib/poller-fleet.js';
import type { RunningServer } from '../lib/server-process.js';
import { waitUntil } from '../lib/wait.js';
import type { ScenarioContext } from './scenario.js';

export interface HeldCheck {
  /** Seconds from the call until both sides agreed. */
  seconds: number;
  /** held_polls from the server's stats at that moment, or null if stats failed. */
  serverHeld: number | null;
  /** Why stats could not be read (then only the generators' view was used). */
  statsError: string | null;
}

/**
 * Resolves once the generators report `count` polls written and unanswered and the server's
 * {"op":"stats"} reports at least `count` held polls. If stats fails, the generators' view alone
 * decides (and the error is returned). Throws if the server exits or the time runs out.
 */
export async function waitForHeldPolls(ctx: ScenarioContext, server: RunningServer, fleet: PollerFleet, count: number, label: string): Promise<HeldCheck> {
  const started = Date.now();
  let serverHeld: number | null = null;
  let statsError: string | null = null;
  ctx.progress.watch(() => `${ctx.target} ${label}: ${fleet.sum('held')}/${count} polls held (${fleet.sum('connected')} connected, server says ${serverHeld ?? '?'})`);
  // 3 minutes, or more for sizes that connect slowly (1M in the VM at ~2k connects/s), never
  // past the hard limit.
  const timeoutMs = Math.max(1000, Math.min(Math.max(180, count / 200), ctx.remainingSeconds() - 5) * 1000);
  await waitUntil(`${count} held polls on ${ctx.target}`, async () => {
    if (server.hasExited()) throw new Error(`${ctx.target} exited while clients connected: ${server.stderrTail()}`);
    if (fleet.sum('held') < count) return false;
    if (statsError !== null) return true;
    try {
      serverHeld = (await server.stats()).held_polls;
    } catch (e) {
      statsError = e instanceof Error ? e.message : String(e);
      return true;
    }
    return serverHeld >= count;
  }, timeoutMs, 250);
  return { seconds: (Date.now() - started) / 1000, serverHeld, statsError };
}
