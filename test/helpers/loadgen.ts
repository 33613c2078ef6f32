// The native load generator (bench/out/loadgen, built by `make -C bench/loadgen`)
// as a child process of a test: its progress lines (stderr, "progress mode=poll
// t=1.2 received=5 ...") are parsed as they come, its one JSON result line
// (stdout) when it ends. Every run is bounded by --max-seconds, and the
// process is SIGKILLed by PID in the test's teardown if it is still running.
//
// What the generator checks (bench/loadgen/sequence_check.h): every message
// the sender writes carries {"t":<ns>,"s":<per-client sequence number>}, and
// poll clients count a sequence number not above the last one seen as
// `duplicated` and skipped ones as `gaps`. A message is lost when the sender
// had it acknowledged (`deliveries_ok`) and no poller received it:
// deliveries_ok - (received - duplicated) once everything in flight arrived.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';

export const LOADGEN = fileURLToPath(new URL('../../bench/out/loadgen', import.meta.url));

export type LoadgenResult = Record<string, unknown>;

export interface LoadgenProcess {
  readonly pid: number;
  readonly label: string;
  /** The values of the last progress line (numbers only). */
  progress(): Readonly<Record<string, number>>;
  /** Resolves with the result line once the process has exited 0 with one; rejects otherwise. */
  readonly result: Promise<LoadgenResult>;
  /** True once the process has exited. */
  hasExited(): boolean;
  /** SIGTERM (the generator still prints its result), SIGKILL after `graceMs`; resolves with the result. */
  finish(graceMs?: number): Promise<LoadgenResult>;
  /** Resolves with the first progress line for which `check` holds; rejects after `timeoutMs` or on exit. */
  waitProgress(what: string, check: (p: Readonly<Record<string, number>>) => boolean, timeoutMs?: number): Promise<Record<string, number>>;
}

function assertBuilt(): void {
  if (!existsSync(LOADGEN)) throw new Error(`${LOADGEN} does not exist: build it with \`make -C bench/loadgen\` (npm run test:faults does)`);
}

function parseProgress(line: string): Record<string, number> {
  const values: Record<string, number> = {};
  for (const pair of line.split(' ').slice(1)) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const v = Number(pair.slice(eq + 1));
    if (Number.isFinite(v)) values[pair.slice(0, eq)] = v;
  }
  return values;
}

/**
 * Starts `loadgen MODE ...args --progress 0.25`. `args` must bound the run
 * (--duration or --messages, and --max-seconds: the generator's own default
 * is 300 s).
 */
export function startLoadgen(t: Test, mode: 'poll' | 'send' | 'churn', args: readonly string[], label: string = mode): LoadgenProcess {
  assertBuilt();
  const child = spawn(LOADGEN, [mode, ...args, '--progress', '0.25'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${LOADGEN} (${label})`);
  let exitedFlag = false;
  let stdout = '';
  let stderrTail = '';
  let partial = '';
  let last: Record<string, number> = {};
  const watchers = new Set<() => void>();
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.startsWith('progress ')) {
        last = parseProgress(line);
        for (const w of watchers) w();
      } else {
        stderrTail = (stderrTail + line + '\n').slice(-4000);
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exitedFlag = true;
      for (const w of watchers) w();
      resolve({ code, signal });
    });
  });
  // 'exit' can come before stdout is drained: the result needs the pipe closed too.
  const stdoutClosed = new Promise<void>((resolve) => child.stdout.once('close', () => resolve()));
  const result = Promise.all([exited, stdoutClosed]).then(([status]) => {
    const line = stdout.trim().split('\n').pop() ?? '';
    if (status.code !== 0 || line === '') {
      throw new Error(`loadgen ${label} failed (code ${status.code}, signal ${status.signal}): ${stderrTail.trim() || 'no output'}`);
    }
    return JSON.parse(line) as LoadgenResult;
  });
  // Awaited later, or never if the test failed first: not an unhandled rejection meanwhile.
  result.catch(() => undefined);
  const kill = (signal: NodeJS.Signals): void => {
    if (exitedFlag) return;
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  };
  t.teardown(async () => {
    kill('SIGKILL');
    await exited;
  });
  return {
    pid,
    label,
    progress: () => last,
    result,
    hasExited: () => exitedFlag,
    async finish(graceMs = 15_000) {
      kill('SIGTERM');
      const timer = setTimeout(() => kill('SIGKILL'), graceMs);
      try {
        return await result;
      } finally {
        clearTimeout(timer);
      }
    },
    waitProgress(what, check, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const done = (): void => {
          if (check(last)) {
            cleanup();
            resolve(last);
          } else if (exitedFlag) {
            cleanup();
            reject(new Error(`loadgen ${label} exited while waiting for ${what}; last progress ${JSON.stringify(last)}; stderr: ${stderrTail.trim()}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (loadgen ${label}); last progress ${JSON.stringify(last)}`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          watchers.delete(done);
        };
        watchers.add(done);
        done();
      });
    },
  };
}

/** A number field of a loadgen result (nested with dots: "errors.connect"); throws if absent. */
export function num(result: LoadgenResult, path: string): number {
  let value: unknown = result;
  for (const key of path.split('.')) value = (value as Record<string, unknown> | undefined)?.[key];
  if (typeof value !== 'number') throw new Error(`loadgen result has no number at ${path}: ${JSON.stringify(result)}`);
  return value;
}

/**
 * Source addresses for client sockets: 127.0.0.<base> .. <base + count - 1>
 * (loopback answers on all of 127/8). Each address has its own ephemeral
 * ports, so the files of a suite that opens tens of thousands of connections
 * draw from separate pools.
 */
export function sourceFlags(base: number, count = 4): string[] {
  return ['--src-base', String(base), '--src-count', String(count)];
}
