// Reading a server's memory so that a figure is the server's steady state, not the moment's
// garbage: several readings, the median kept, and a trace of how RSS moved while it settled.
import { type KernelMemory, type ResidentParts, readKernelMemory, readResidentParts } from './system-memory.js';
import { sleep } from './wait.js';

export interface MemoryReading extends ResidentParts, KernelMemory {}

export function readMemory(pid: number): MemoryReading {
  return { ...readResidentParts(pid), ...readKernelMemory() };
}

export interface SettledReading {
  /** The reading whose RSS is the median of the series (its other fields come from the same moment). */
  median: MemoryReading;
  /** Every RSS of the series, bytes, in order: their spread shows how still the process was. */
  rssSeries: number[];
}

/** `count` readings `intervalMs` apart; the one with the median RSS stands for the series. */
export async function readSettled(pid: number, count: number, intervalMs: number): Promise<SettledReading> {
  const readings: MemoryReading[] = [];
  for (let i = 0; i < count; i++) {
    if (i > 0) await sleep(intervalMs);
    readings.push(readMemory(pid));
  }
  const sorted = [...readings].sort((a, b) => a.rss - b.rss);
  const median = sorted[Math.floor((sorted.length - 1) / 2)];
  if (median === undefined) throw new Error('readSettled needs at least one reading');
  return { median, rssSeries: readings.map((r) => r.rss) };
}

/**
 * Waits until `untilMs` (a Date.now() value), reading RSS every `everyMs` meanwhile; returns
 * [milliseconds since `fromMs`, RSS bytes] pairs, so a results file shows when the heaps shrank.
 */
export async function traceRssUntil(pid: number, fromMs: number, untilMs: number, everyMs: number): Promise<Array<[number, number]>> {
  const trace: Array<[number, number]> = [];
  for (;;) {
    const now = Date.now();
    trace.push([now - fromMs, readResidentParts(pid).rss]);
    if (now >= untilMs) return trace;
    await sleep(Math.min(everyMs, untilMs - now));
  }
}

/**
 * Reads the server's RSS and the machine's memory every `everyMs` in the background, for a run
 * long enough that running out of memory is a risk (the million scenario in the VM): the results
 * file then shows how memory went up to a failure. Readings of an exited process are skipped.
 */
export class MemoryTrace {
  /** [ms since start, server RSS, MemAvailable, Slab, TCP buffer bytes] */
  readonly samples: Array<[number, number, number, number, number]> = [];
  latest: MemoryReading | null = null;
  private readonly started = Date.now();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number, everyMs: number, private readonly maxSamples = 2000) {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
    this.sample();
  }

  private sample(): void {
    try {
      const r = readMemory(this.pid);
      this.latest = r;
      if (this.samples.length >= this.maxSamples) this.samples.splice(0, this.samples.length - this.maxSamples + 1);
      this.samples.push([Date.now() - this.started, r.rss, r.memAvailable, r.slab, r.tcpMem]);
    } catch {
      // The process has exited: its last readings stay.
    }
  }

  /** "server RSS 812 MiB, MemAvailable 6,120 MiB, TCP buffers 40 MiB" for progress lines. */
  describe(): string {
    const r = this.latest;
    if (r === null) return 'no memory reading yet';
    const mib = (b: number): string => Math.round(b / 1048576).toLocaleString('en-US');
    return `server RSS ${mib(r.rss)} MiB, MemAvailable ${mib(r.memAvailable)} MiB, TCP buffers ${mib(r.tcpMem)} MiB`;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
