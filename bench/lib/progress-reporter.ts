// The runner's progress line on stderr: "[ 37s] baseline throughput: ..." every 2 seconds, so a
// three-minute run never looks hung.
export class ProgressReporter {
  private readonly started = Date.now();
  private describe: (() => string) | null = null;
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 2000) {
    this.timer = setInterval(() => {
      if (this.describe !== null) this.print(this.describe());
    }, intervalMs);
    this.timer.unref();
  }

  /** From now on the periodic line shows `describe()` (evaluated at each print). */
  watch(describe: () => string): void {
    this.describe = describe;
  }

  /** Prints one line now (phase changes). */
  print(text: string): void {
    const seconds = Math.round((Date.now() - this.started) / 1000);
    process.stderr.write(`[${String(seconds).padStart(4)}s] ${text}\n`);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
