// The event-loop lag figure: how late a 10 ms timer fires, the largest over
// the last 10 one-second windows. Driven with explicit times, no sleeping.
import t from 'tap';
import { LoopLag } from '../src/threads/loop-lag.js';
import { waitFor } from './helpers/wait.js';

t.test('a timer on time is no lag; a late one is its lateness', async (t) => {
  const lag = new LoopLag();
  lag.begin(0);
  t.equal(lag.maxMs(), 0, 'nothing yet');
  lag.tick(10);
  lag.tick(20.5);
  t.equal(lag.maxMs(), 0.5, 'half a ms late');
  lag.tick(30); // early (rounding): no negative lag
  t.equal(lag.maxMs(), 0.5);
  lag.tick(240); // a 200 ms stall
  t.equal(lag.maxMs(), 200);
  lag.tick(250);
  t.equal(lag.maxMs(), 200, 'the largest stays');
});

t.test('a stall is reported for 10 windows of 1 s, then forgotten', async (t) => {
  const lag = new LoopLag();
  lag.begin(0);
  lag.tick(510); // 500 ms late, in window 0
  let now = 510;
  const runTo = (end: number): void => {
    while (now + 10 <= end) {
      now += 10;
      lag.tick(now);
    }
  };
  runTo(9_990);
  t.equal(lag.maxMs(), 500, 'still within the last 10 windows');
  runTo(10_500);
  t.equal(lag.maxMs(), 0, 'window 0 has rolled out');
});

t.test('a stall longer than every window counts once, in the window it ended in', async (t) => {
  const lag = new LoopLag();
  lag.begin(0);
  lag.tick(100);
  lag.tick(60_110); // a minute without a tick
  t.equal(lag.maxMs(), 60_000);
  let now = 60_110;
  for (let i = 0; i < 880; i++) lag.tick((now += 10));
  t.equal(lag.maxMs(), 60_000, 'seen for the next 9 s (its window and 9 more)');
  for (let i = 0; i < 1000; i++) lag.tick((now += 10));
  t.equal(lag.maxMs(), 0, 'then gone');
});

t.test('start() measures the real loop and stop() ends it', async (t) => {
  const lag = new LoopLag();
  lag.start();
  const end = Date.now() + 60;
  while (Date.now() < end) {
    // a 60 ms stall of this loop
  }
  // The timer was due within 10 ms of the stall's start, so it fires at least 50 ms late.
  await waitFor('the timer to fire after the stall', () => lag.maxMs() >= 40);
  lag.stop();
  t.pass(`the stall is seen (${lag.maxMs().toFixed(1)} ms)`);
});
