// Reconnect delays: exponential backoff with jitter, capped. Half of each
// delay is random, which spreads a crowd of clients that lost the same server
// over the window instead of bunching them, and half is fixed, so a retry
// never comes at once.

export interface BackoffOptions {
  /** The bound of the first delay, ms (default 100). */
  initialDelayMs?: number;
  /** The largest bound, ms (default 5000). */
  maxDelayMs?: number;
}

export class Backoff {
  private readonly initial: number;
  private readonly max: number;
  private attempt = 0;

  constructor(options: BackoffOptions = {}, private readonly random: () => number = Math.random) {
    this.initial = options.initialDelayMs ?? 100;
    this.max = options.maxDelayMs ?? 5000;
    if (!(this.initial > 0) || !(this.max >= this.initial)) {
      throw new RangeError(`backoff needs 0 < initialDelayMs <= maxDelayMs, got ${this.initial} and ${this.max}`);
    }
  }

  /** The delay before the next try: uniform in [bound/2, bound) where bound doubles per try up to the cap. */
  next(): number {
    const bound = Math.min(this.max, this.initial * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return bound / 2 + this.random() * (bound / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}
