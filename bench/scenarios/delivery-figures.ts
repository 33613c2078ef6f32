// The figures every message-delivery scenario reports, from one DeliveryOutcome.
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
  ];
}
