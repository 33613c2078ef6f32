// The figures every message-delivery scenario reports, from one DeliveryOutcome.
import { perMessage } from '../lib/thread-usage.js';
import type { DeliveryOutcome } from './delivery-run.js';
import type { Figure } from './scenario.js';

export function deliveryFigures(o: DeliveryOutcome, rateName: string, rateTarget?: string, p99Target?: string): Figure[] {
  const l = o.pollers.latency.summaryMs();
  const rate: Figure = { name: rateName, unit: 'msg/s', better: 'higher', value: o.seconds > 0 ? o.unique / o.seconds : null };
  if (rateTarget !== undefined) rate.target = rateTarget;
  const p99: Figure = { name: 'latency p99', unit: 'ms', better: 'lower', value: l.p99 };
  if (p99Target !== undefined) p99.target = p99Target;
  return [
    rate,
    { name: 'latency p50', unit: 'ms', better: 'lower', value: l.p50 },
    p99,
    { name: 'latency p99.9', unit: 'ms', better: 'lower', value: l.p999 },
    { name: 'latency max', unit: 'ms', better: 'lower', value: l.max },
    { name: 'lost', unit: 'msgs', better: 'lower', value: o.lost, target: '0' },
    { name: 'duplicated', unit: 'msgs', better: 'lower', value: o.pollers.duplicated, target: '0' },
    { name: 'refused by server', unit: 'msgs', better: 'lower', value: o.deliveriesRefused },
    // CPU per message depends less on what else runs on the machine than msgs/s does.
    { name: 'server CPU per delivered msg', unit: 'us', better: 'lower', value: o.unique > 0 ? (o.serverCpuSeconds * 1e6) / o.unique : null },
    ...threadFigures(o),
  ];
}

/** The name of the whole server's wake-ups per message figure. */
export const WAKEUPS_FIGURE = 'wake-ups per delivered msg';

/**
 * CPU per message of each thread role and the wake-ups (voluntary context switches) per message
 * of the whole server: the cause of a regression as a number. Workers are summed here (each
 * one's share is in the JSON file and the HTML report).
 */
export function threadFigures(o: DeliveryOutcome): Figure[] {
  const rows = perMessage(o.threads, o.unique);
  const sum = (pick: (role: string) => boolean, key: 'cpuUs' | 'wakeups'): number | null => {
    const chosen = rows.filter((r) => r.role !== 'total' && pick(r.role));
    if (chosen.length === 0 || o.unique === 0) return null;
    return chosen.reduce((a, r) => a + (r[key] ?? 0), 0);
  };
  const main = (role: string): boolean => role === 'manager (main)' || role === 'main' || role === 'nginx master';
  const worker = (role: string): boolean => /^worker \d+$/.test(role) || role === 'nginx worker';
  const total = rows.find((r) => r.role === 'total');
  return [
    { name: 'CPU/msg: manager or main thread', unit: 'us', better: 'lower', value: sum(main, 'cpuUs') },
    { name: 'CPU/msg: workers (all)', unit: 'us', better: 'lower', value: sum(worker, 'cpuUs') },
    { name: 'CPU/msg: helper threads', unit: 'us', better: 'lower', value: sum((r) => r === 'helpers', 'cpuUs') },
    { name: WAKEUPS_FIGURE, unit: 'switches', better: 'lower', value: total?.wakeups ?? null },
    { name: 'wake-ups/msg: manager or main', unit: 'switches', better: 'lower', value: sum(main, 'wakeups') },
    { name: 'wake-ups/msg: workers (all)', unit: 'switches', better: 'lower', value: sum(worker, 'wakeups') },
  ];
}
