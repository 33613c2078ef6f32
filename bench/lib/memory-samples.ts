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
