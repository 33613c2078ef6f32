// One process of the native load generator (bench/out/loadgen): its progress lines and its
// one-line JSON result.
import { spawn } from 'node:child_process';
import { TailBuffer, exited, stopChild } from './child-exit.js';
import { type JsonObject, parseObjectLine } from './json-fields.js';
import type { ProcessRegistry } from './process-registry.js';

export interface LoadgenProcess {
  readonly label: string;
  readonly pid: number;
  /** The last progress line's values ("progress mode=poll t=1.2 held=5000 ..." -> {held: 5000, ...}). */
  progress(): Readonly<Record<string, number>>;
  /** The result line, once the process has ended (rejects if it failed). */
  readonly result: Promise<JsonObject>;
  /** Asks it to finish now (SIGTERM): it still prints its result. SIGKILL after 10 s. */
  finish(): Promise<JsonObject>;
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
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk;
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
  const result = exited(child).then((status) => {
    const last = stdout.trim().split('\n').pop() ?? '';
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
    finish: async () => {
      await stopChild(child, 'SIGTERM', 10_000);
      return result;
    },
  };
}
