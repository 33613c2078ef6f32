// Delivery bodies are bounded: they travel through a ring whose records have
// a maximum size, so a client with many large messages queued gets them over
// several polls, each cursor moving past what it got, none lost or repeated.
import t from 'tap';
import { Manager } from '../src/manager/manager.js';
import { FakeClock, FakeLinks } from './helpers/manager-fakes.js';

interface Body {
  cursor: number;
  messages: string[];
}

t.test('a queue larger than one delivery is delivered over several polls', async (t) => {
  const clock = new FakeClock();
  const links = new FakeLinks(1);
  const maxDeliveryBytes = 64 * 1024;
  const manager = new Manager({ ttlMs: 60_000, maxQueue: 1000, now: clock.now, sleep: clock.sleep, maxDeliveryBytes }, links.links);
  const data = Array.from({ length: 40 }, (_, i) => JSON.stringify(`${i}:${'x'.repeat(5000)}`));
  for (const d of data) t.ok(manager.send('big', d).ok);

  const got: string[] = [];
  let since = 0;
  let handle = 1;
  for (let polls = 0; polls < 40 && got.length < data.length; polls++) {
    manager.onPoll(0, handle++, 'big', since);
    const [delivery, ...more] = links.take();
    t.equal(more.length, 0, 'one delivery per poll');
    t.ok(delivery !== undefined, 'the poll is answered at once');
    if (delivery === undefined) break;
    t.ok(Buffer.byteLength(delivery.body) <= maxDeliveryBytes, `body of ${Buffer.byteLength(delivery.body)} bytes fits`);
    const body = JSON.parse(delivery.body) as Body;
    t.ok(body.messages.length >= 1, 'at least one message per delivery');
    got.push(...body.messages.map((m) => JSON.stringify(m)));
    since = body.cursor;
  }
  t.same(got, data, 'every message once, in order');
  t.ok(handle > 3, 'it took several polls');
});

t.test('a single message larger than the budget still goes out alone', async (t) => {
  const links = new FakeLinks(1);
  const manager = new Manager({ ttlMs: 60_000, maxQueue: 10, now: new FakeClock().now, maxDeliveryBytes: 1000 }, links.links);
  const big = JSON.stringify('y'.repeat(2000));
  manager.send('c', big);
  manager.send('c', '1');
  manager.onPoll(0, 1, 'c', 0);
  const body = JSON.parse(links.take()[0]!.body) as Body;
  t.same(body.messages, ['y'.repeat(2000)], 'only the big message');
  manager.onPoll(0, 2, 'c', body.cursor);
  t.same((JSON.parse(links.take()[0]!.body) as Body).messages, [1], 'the next poll gets the rest');
});
