// What the results were measured on: recorded in every results file.
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, release, totalmem } from 'node:os';

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryBytes: number;
  kernel: string;
  node: string;
  /** The soft open-files limit the bench and the servers it starts run under. */
  fileLimit: string;
  /** 1, 5 and 15 minute load averages when described: other work on the machine skews every figure. */
  loadAverage: number[];
}

export interface Revision {
  commit: string;
  /** Uncommitted changes in the working tree when the bench ran. */
  dirty: boolean;
}

export function describeMachine(): Machine {
  let fileLimit = 'unknown';
  try {
    fileLimit = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
  } catch {
    // Not fatal: the figure is informational.
  }
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryBytes: totalmem(),
    kernel: release(),
    node: process.version,
    fileLimit,
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

/** The git commit of `repoRoot` (read-only git commands only). */
export function gitRevision(repoRoot: string): Revision {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    const status = execFileSync('git', ['status', '--porcelain'], { cwd: repoRoot, encoding: 'utf8' });
    return { commit, dirty: status.trim() !== '' };
  } catch {
    return { commit: 'unknown', dirty: false };
  }
}
