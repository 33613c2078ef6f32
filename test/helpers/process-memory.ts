// A process's resident memory, read from /proc the way an operator's tools do.
import { readFileSync } from 'node:fs';

/** VmRSS of `pid` in bytes (throws if the process is gone). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (m === null) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

export const MB = 1024 * 1024;

export function mb(bytes: number): string {
  return (bytes / MB).toFixed(1);
}

/** The median of `values` (the lower middle one for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] as number;
}
