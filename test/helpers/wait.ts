// Waiting on conditions instead of sleeping: every end-to-end test waits for
// something observable (a reply, a stats counter, a closed socket) with a
// generous deadline, so the suite is fast on an idle machine and still
// deterministic on a loaded CI runner. The rest of the conventions:
// - "Nothing happened" is shown by a later event that would have come after
//   it: the next answer on the same connection, a round trip on another
//   connection to the same event loop, or EngineHarness.barrier(). A window
//   of time alone passes vacuously when the machine is slow.
// - Timeouts under test get a lower bound measured from before the client
//   acted (the server's clock cannot start earlier) and only a generous upper
//   bound; how promptly something happens is for the benchmarks.
// - sleep() is left for time that is itself under test (a window past a
//   deadline, a pause before a first byte) and for pacing a slow client.

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects with `what` in the message if `promise` has not settled within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export interface WaitOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Re-check this often (default 20 ms). */
  intervalMs?: number;
}

/**
 * Re-evaluates `check` until it returns a value other than undefined/false and
 * returns that value; throws naming `what` (and the last value seen) on timeout.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  options: WaitOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 20;
  const start = Date.now();
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() - start > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(intervalMs);
  }
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  });
  await Promise.all(runners);
  return results;
}

/**
 * Marks `promise` as handled now, for promises started up front and awaited
 * later by a subtest: an early rejection must fail that subtest, not crash
 * the file as an unhandled rejection.
 */
export function awaitLater<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/**
 * Fetches until `done(value)` holds or `timeoutMs` passes and returns the last
 * value either way, so the caller's assertions report what was really seen.
 * For readings that may lag a little, such as the server's per-thread stats.
 */
export async function settle<T>(fetch: () => Promise<T>, done: (value: T) => boolean, options: WaitOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const intervalMs = options.intervalMs ?? 20;
  const start = Date.now();
  for (;;) {
    const value = await fetch();
    if (done(value) || Date.now() - start > timeoutMs) return value;
    await sleep(intervalMs);
  }
}
