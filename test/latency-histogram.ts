// The accept-to-delivery latency histogram: its buckets (Prometheus `le`: a
// value equal to a bound is in that bucket), and the manager observing each
// message it writes into a delivery body with its time since it was accepted.
import t from 'tap';
import { DELIVERY_LATENCY_BUCKETS_S, LatencyHistogram } from '../src/manager/latency-histogram.js';
import { Manager } from '../src/manager/manager.js';
import { FakeClock, FakeLinks } from './helpers/manager-fakes.js';

t.test('buckets: cumulative counts per upper bound, le inclusive, +Inf last', async (t) => {
  const h = new LatencyHistogram([0.001, 0.01, 1]);
  t.same(h.snapshot(), { bounds: [0.001, 0.01, 1, Infinity], cumulative: [0, 0, 0, 0], sumSeconds: 0, count: 0 }, 'empty');
  for (const ms of [0, 1, 1.0001, 10, 999, 1000, 1000.5, 60_000]) h.observe(ms);
  const s = h.snapshot();
  t.same(s.bounds, [0.001, 0.01, 1, Infinity]);
  // 0 and 1 ms <= 1 ms; 1.0001 and 10 <= 10 ms; 999 and 1000 <= 1 s; 1000.5 and 60 s above.
  t.same(s.cumulative, [2, 4, 6, 8]);
  t.equal(s.count, 8);
  t.equal(h.count, 8);
  t.ok(Math.abs(s.sumSeconds - (0 + 1 + 1.0001 + 10 + 999 + 1000 + 1000.5 + 60_000) / 1000) < 1e-9, `sum in seconds: ${s.sumSeconds}`);
});

t.test('a negative latency (a clock set back) counts as 0, and NaN too', async (t) => {
  const h = new LatencyHistogram([0.001]);
  h.observe(-5);
  h.observe(Number.NaN);
  t.same(h.snapshot(), { bounds: [0.001, Infinity], cumulative: [2, 2], sumSeconds: 0, count: 2 });
});

t.test('bounds must be positive, finite and ascending', async (t) => {
  for (const bad of [[0], [-1], [1, 1], [2, 1], [Infinity], [Number.NaN]]) {
    t.throws(() => new LatencyHistogram(bad), RangeError, JSON.stringify(bad));
  }
  t.ok(DELIVERY_LATENCY_BUCKETS_S.length > 5, 'the default buckets are valid');
  t.doesNotThrow(() => new LatencyHistogram());
});

t.test('the manager observes each delivered message once per delivery, with its wait since accepted', async (t) => {
  const clock = new FakeClock();
  const links = new FakeLinks(1);
  const manager = new Manager({ ttlMs: 60_000, maxQueue: 100, now: clock.now, sleep: clock.sleep }, links.links);
  const bucketOf = (seconds: number): number => manager.deliveryLatency.snapshot().bounds.findIndex((b) => seconds <= b);

  // Sent to a held poll: goes out at once, 0 s.
  manager.onPoll(0, 1, 'a', 0);
  const first = manager.send('a', '1');
  if (!first.ok) throw new Error('refused');
  t.equal(links.take().length, 1);
  let s = manager.deliveryLatency.snapshot();
  t.equal(s.count, 1);
  t.equal(s.cumulative[0], 1, 'in the first bucket');
  t.equal(s.sumSeconds, 0);

  // Two queued while no poll is held, one 2 s and one 0.3 s before the next poll takes both.
  manager.send('a', '2');
  clock.advance(1700);
  manager.send('a', '3');
  clock.advance(300);
  manager.onPoll(0, 2, 'a', first.id);
  t.equal(links.take().length, 1, 'one body with both');
  s = manager.deliveryLatency.snapshot();
  t.equal(s.count, 3, 'one observation per message, as delivered counts them');
  t.equal(manager.stats().delivered, 3);
  t.ok(Math.abs(s.sumSeconds - 2.3) < 1e-9, `sum ${s.sumSeconds} = 0 + 2.0 + 0.3`);
  const noted = (i: number): number => s.cumulative[i]! - (i === 0 ? 0 : s.cumulative[i - 1]!);
  t.equal(noted(bucketOf(2)), 1, 'the 2 s wait lands in its bucket');
  t.equal(noted(bucketOf(0.3)), 1, 'the 0.3 s wait in its own');

  // A redelivery (the poll's answer was lost: the client polls again with the old cursor) counts again.
  clock.advance(1000);
  manager.onPoll(0, 3, 'a', first.id);
  t.equal(links.take().length, 1);
  t.equal(manager.deliveryLatency.count, 5, 'both counted again, like delivered');
  t.equal(manager.stats().delivered, 5);
});
