// One process of the native load generator (bench/out/loadgen): its progress lines and its
// one-line JSON result.
import { spawn } from 'node:child_process';
import { type ExitStatus, TailBuffer, stopChild } from './child-exit.js';
import { type JsonObject, parseObjectLine } from './json-fields.js';
import type { ProcessRegistry } from './process-registry.js';

export interface LoadgenProcess {
  readonly label: string;
  readonly pid: number;
  /** The last progress line's values ("progress mode=poll t=1.2 held=5000 ..." -> {held: 5000, ...}). */
  progress(): Readonly<Record<string, number>>;
  /** The result line, once the process has ended (rejects if it failed). */
  readonly result: Promise<JsonObject>;
  /**
   * poll mode: SIGUSR2, and the snapshot line it prints (the result so far, latency since the
   * previous snapshot). Rejects after `timeoutMs` or if the process ends first.
   */
  snapshot(timeoutMs?: number): Promise<JsonObject>;
  /**
   * Asks it to finish now (SIGTERM): it still prints its result. SIGKILL after `graceMs` (10 s):
   * a process holding a quarter of a million sockets takes longer to exit in the VM.
   */
  finish(graceMs?: number): Promise<JsonObject>;
}

/** Seconds between progress lines: the runner decides when a phase is over from them. */
export const PROGRESS_INTERVAL = '0.25';

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

export function startLoadgen(binary: string, args: readonly string[], label: string, registry: ProcessRegistry): LoadgenProcess {
  const child = spawn(binary, [...args, '--progress', PROGRESS_INTERVAL], { stdio: ['ignore', 'pipe', 'pipe'] });
  registry.track(child);
  if (child.pid === undefined) throw new Error(`could not start ${binary} (${label})`);
  let progress: Record<string, number> = {};
  let stdout = '';
  let partial = '';
  const stderr = new TailBuffer();
  // Snapshot requests waiting for their line, in order (one line answers the oldest).
  const snapshotWaiters: Array<(line: string) => void> = [];
  let stdoutPartial = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    const lines = (stdoutPartial + chunk).split('\n');
    stdoutPartial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.startsWith('{"mode":"poll","snapshot":true')) snapshotWaiters.shift()?.(line);
      else stdout += line + '\n';
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.startsWith('progress ')) progress = parseProgress(line);
      else stderr.push(line + '\n');
    }
  });
  // 'close', not 'exit': the result line may still be in the pipe when the process has exited.
  const closed = new Promise<ExitStatus>((resolve) => {
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => resolve({ code, signal }));
  });
  const result = closed.then((status) => {
    const last = (stdout + stdoutPartial).trim().split('\n').pop() ?? '';
    if (status.code !== 0 || last === '') {
      throw new Error(`loadgen ${label} failed (code ${status.code}, signal ${status.signal}): ${stderr.toString().trim() || 'no output'}`);
    }
    return parseObjectLine(last, `loadgen ${label} result`);
  });
  // Awaited later (or never, if another step failed first): not an unhandled rejection meanwhile.
  result.catch(() => undefined);
  return {
    label,
    pid: child.pid,
    progress: () => progress,
    result,
    snapshot: (timeoutMs = 30_000) => new Promise<JsonObject>((resolve, reject) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        reject(new Error(`loadgen ${label} has exited: no snapshot`));
        return;
      }
      const timer = setTimeout(() => reject(new Error(`loadgen ${label} printed no snapshot within ${timeoutMs} ms`)), timeoutMs);
      snapshotWaiters.push((line) => {
        clearTimeout(timer);
        try {
          resolve(parseObjectLine(line, `loadgen ${label} snapshot`));
        } catch (e) {
          reject(e);
        }
      });
      child.kill('SIGUSR2');
    }),
    finish: async (graceMs = 10_000) => {
      await stopChild(child, 'SIGTERM', graceMs);
      return result;
    },
  };
}
