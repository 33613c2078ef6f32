// What the results were measured on: recorded in every results file.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';

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
  /** Uncommitted changes in the working tree when the bench ran; null when git could not tell. */
  dirty: boolean | null;
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
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const status = execFileSync('git', ['status', '--porcelain'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return { commit, dirty: status.trim() !== '' };
  } catch {
    // In the VM there is no git, and a worktree's git dir lies outside the share: the host
    // passes the commit in (docs/BENCHMARKS.md: run.sh --env BENCH_GIT_COMMIT=...).
    return { commit: headFromFiles(repoRoot) ?? process.env['BENCH_GIT_COMMIT'] ?? 'unknown', dirty: null };
  }
}

/**
 * HEAD read from the .git files, for machines without git (the VM): a checkout or a worktree
 * (.git is then a file naming its git dir, whose commondir holds the refs), loose or packed refs.
 */
function headFromFiles(repoRoot: string): string | null {
  try {
    let gitDir = join(repoRoot, '.git');
    if (statSync(gitDir).isFile()) {
      const m = /^gitdir: (.+)$/m.exec(readFileSync(gitDir, 'utf8'));
      if (m?.[1] === undefined) return null;
      gitDir = resolve(repoRoot, m[1].trim());
    }
    const commonFile = join(gitDir, 'commondir');
    const commonDir = existsSync(commonFile) ? resolve(gitDir, readFileSync(commonFile, 'utf8').trim()) : gitDir;
    const head = readFileSync(join(gitDir, 'HEAD'), 'utf8').trim();
    const ref = /^ref: (.+)$/.exec(head)?.[1];
    if (ref === undefined) return /^[0-9a-f]{40}$/.test(head) ? head : null;
    for (const dir of [gitDir, commonDir]) {
      const loose = join(dir, ref);
      if (existsSync(loose)) return readFileSync(loose, 'utf8').trim();
    }
    const packed = join(commonDir, 'packed-refs');
    if (!existsSync(packed)) return null;
    for (const line of readFileSync(packed, 'utf8').split('\n')) {
      const [hash, name] = line.split(' ');
      if (name === ref && hash !== undefined) return hash;
    }
    return null;
  } catch {
    return null;
  }
}
