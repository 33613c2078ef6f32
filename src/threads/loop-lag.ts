// Event-loop lag of one thread, for the metrics: how late a 10 ms interval
// timer fires. A thread whose loop is busy (a long batch of work, a long GC
// pause, a saturated core) runs its timers late by about that much, so this is
// what a request or a ring record waiting on that loop waits on top.
//
// Reported as the largest lag in the last 10 one-second windows, so a stall is
// seen by a scrape up to 10 s later (a scrape every 15 s still sees most of
// them; a scrape interval of 10 s or less sees them all), and a loop that
// stays busy shows as a steady value.
//
// Why not perf_hooks.monitorEventLoopDelay: it measures the same way without a
// JS callback per tick, but windowing it needs reset(), and a reset drops the
// sample that spans it (measured on Node 20: a 200 ms stall right after a
// reset is not recorded at all). One interval callback every 10 ms costs about
// a microsecond, and only while metrics are on.

const RESOLUTION_MS = 10;
const WINDOW_MS = 1000;
const WINDOWS = 10;

export class LoopLag {
  /** The largest lag of each of the last WINDOWS windows, in ms; `slot` is the current one. */
  private readonly maxima = new Float64Array(WINDOWS);
  private slot = 0;
  private windowEnd = 0;
  private last = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly tickBound = (): void => this.tick(performance.now());

  /** Starts measuring; the timer does not keep the thread alive. */
  start(): void {
    if (this.timer !== undefined) return;
    this.begin(performance.now());
    this.timer = setInterval(this.tickBound, RESOLUTION_MS);
    this.timer.unref();
  }

  /** Forgets every window and counts from `now` (ms, performance.now()); start() calls it. */
  begin(now: number): void {
    this.maxima.fill(0);
    this.slot = 0;
    this.last = now;
    this.windowEnd = now + WINDOW_MS;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One firing of the timer at `now` (ms, performance.now()); public for the unit test. */
  tick(now: number): void {
    const lag = now - this.last - RESOLUTION_MS;
    this.last = now;
    // Windows that ended meanwhile are closed; a stall longer than one leaves them empty
    // and is counted in the window it ended in.
    for (let rolled = 0; now >= this.windowEnd; rolled++) {
      this.windowEnd += WINDOW_MS;
      if (rolled < WINDOWS) {
        this.slot = (this.slot + 1) % WINDOWS;
        this.maxima[this.slot] = 0;
      }
    }
    if (lag > this.maxima[this.slot]!) this.maxima[this.slot] = lag;
  }

  /** The largest lag in the last 10 s, in ms (0 before any). */
  maxMs(): number {
    let max = 0;
    for (let i = 0; i < WINDOWS; i++) if (this.maxima[i]! > max) max = this.maxima[i]!;
    return max;
  }
}
