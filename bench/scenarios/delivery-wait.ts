// The end of a delivery run: once the senders are done, the last messages may still be on their
// way. Waits until every accepted one arrived, or nothing arrived for STALL_MS (then the missing
// ones are lost), failing at once if a server under test exits.
import type { RunningServer } from '../lib/server-process.js';
import { waitUntil } from '../lib/wait.js';
import type { ScenarioContext } from './scenario.js';

/** Time to wait for the last messages once nothing more arrives. */
const STALL_MS = 3000;

/** `received`: messages received once so far (duplicates not counted); `expected`: messages the servers accepted. */
export async function waitForDeliveries(
  ctx: ScenarioContext,
  label: string,
  servers: readonly RunningServer[],
  received: () => number,
  expected: number,
): Promise<void> {
  let last = -1;
  let lastChange = Date.now();
  await waitUntil(`${label} deliveries to finish`, () => {
    for (const server of servers) if (server.hasExited()) throw new Error(`${ctx.target} exited during ${label}: ${server.stderrTail()}`);
    const now = received();
    if (now !== last) {
      last = now;
      lastChange = Date.now();
    }
    return now >= expected || Date.now() - lastChange > STALL_MS;
  }, Math.max(1000, Math.min(60, ctx.remainingSeconds() - 5) * 1000), 100);
}
