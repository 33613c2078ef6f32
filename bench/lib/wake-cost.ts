// What one thread wake-up costs on this machine (`loadgen wakecost`), measured once per rate and
// run: the unit that the "wake-ups per delivered msg" figures are paid in. Multiplied by them it
// says how much of a server's CPU per message is the price of its wake-ups, whatever it does
// once awake (docs/ARCHITECTURE.md, "What a wake-up costs").
import type { ProcessRegistry } from './process-registry.js';
import { startLoadgen } from './loadgen-process.js';
import { numberField } from './json-fields.js';

export interface WakeCost {
  /** Hand-offs per second between two threads (each round trip wakes both once). */
  rate: number;
  /** CPU of both threads per voluntary context switch. */
  cpuUsPerWakeup: number;
  /** Mean time from one thread's write(2) to the other's return from epoll_wait. */
  handoffUs: number;
}

const measured = new Map<number, Promise<WakeCost>>();

/** At most ~1 s of round trips at `rate` (at least 100); the first call per rate measures, later ones share it. */
export function wakeCostAt(loadgen: string, rate: number, registry: ProcessRegistry): Promise<WakeCost> {
  let cost = measured.get(rate);
  if (cost === undefined) {
    const roundTrips = Math.max(100, Math.min(5000, Math.round(rate)));
    const child = startLoadgen(loadgen, ['wakecost', '--rate', String(rate), '--messages', String(roundTrips)], `wakecost ${rate}/s`, registry);
    cost = child.result.then((r) => ({
      rate,
      cpuUsPerWakeup: numberField(r, 'cpu_ns_per_wakeup', 'wakecost') / 1000,
      handoffUs: numberField(r, 'handoff_ns', 'wakecost') / 1000,
    }));
    measured.set(rate, cost);
  }
  return cost;
}
