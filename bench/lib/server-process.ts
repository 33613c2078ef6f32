// Starting and stopping a server under test (MegaComet, the baseline, or Nchan in
// nchan-server.ts) and reading its ports from its ready line.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type ServerStats, queryStats } from './app-client.js';
import { type ExitStatus, TailBuffer, exited, stopChild } from './child-exit.js';
import { describeMachine } from './machine.js';
import { nchanArgs, startNchan } from './nchan-server.js';
import type { ProcessRegistry } from './process-registry.js';
import { readCpuSeconds, readRss } from './system-memory.js';

/**
 * megacomet runs with the bench's --threads (2); megacomet-t8 is the same server with
 * --threads 8 (the issue 10 comparison: threads beyond the cores must cost nearly nothing).
 */
export type TargetName = 'megacomet' | 'megacomet-t8' | 'nchan' | 'baseline';

export const TARGET_NAMES: readonly TargetName[] = ['megacomet', 'megacomet-t8', 'nchan', 'baseline'];

/** Which wire the load generator speaks to a target (loadgen --protocol). */
export type WireProtocol = 'megacomet' | 'nchan';

/** The --threads a MegaComet target runs with; null for the others. */
export function megacometThreads(target: TargetName, threads: number): number | null {
  if (target === 'megacomet') return threads;
  if (target === 'megacomet-t8') return 8;
  return null;
}

/** Flags a scenario needs; both servers take them (the baseline takes no --threads). */
export interface ServerSettings {
  pollTimeout: number;
  ttl: number;
  maxQueue: number;
  threads: number;
  /** The redis scenario: queues in this Redis (MegaComet --redis, Nchan's Redis storage). */
  redisUrl?: string;
}

export interface RunningServer {
  readonly name: TargetName;
  readonly protocol: WireProtocol;
  /** The process that does the work (Nchan: nginx's worker): memory is read from it. */
  readonly pid: number;
  /** Every process of the server (Nchan: master and worker): CPU and threads are read from them. */
  processIds(): number[];
  readonly host: string;
  readonly port: number;
  readonly appPort: number;
  readonly readyLine: string;
  readonly args: readonly string[];
  rss(): number;
  /** CPU seconds (user + system, all threads) used so far. */
  cpuSeconds(): number;
  stats(): Promise<ServerStats>;
  /** True once the process has exited (a crash mid-scenario shows here). */
  hasExited(): boolean;
  stderrTail(): string;
  /**
   * Once it has exited: its exit code or signal and the end of its stderr, read after the pipe
   * closed (at 'exit' the last lines, a fatal error's among them, may still be in the pipe).
   */
  exitReport(): Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs` (5 s). */
  stop(graceMs?: number): Promise<ExitStatus>;
}

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 30_000;

/** The node script of a node target (MegaComet or the baseline); null for Nchan. */
export function serverScript(repoRoot: string, name: TargetName): string | null {
  if (name === 'nchan') return null;
  return name === 'baseline' ? join(repoRoot, 'dist', 'bench', 'baseline', 'server.js') : join(repoRoot, 'dist', 'main.js');
}

export function serverArgs(name: TargetName, s: ServerSettings): string[] {
  if (name === 'nchan') return nchanArgs(s);
  const common = ['--host', HOST, '--port', '0', '--app-host', HOST, '--app-port', '0', '--poll-timeout', String(s.pollTimeout), '--ttl', String(s.ttl), '--max-queue', String(s.maxQueue)];
  const threads = megacometThreads(name, s.threads);
  if (s.redisUrl !== undefined) common.push('--redis', s.redisUrl);
  return threads !== null ? ['--threads', String(threads), ...common] : common;
}

export async function startServer(repoRoot: string, name: TargetName, settings: ServerSettings, registry: ProcessRegistry): Promise<RunningServer> {
  const script = serverScript(repoRoot, name);
  if (script === null) return startNchan(repoRoot, settings, registry, Number(describeMachine().fileLimit));
  if (!existsSync(script)) {
    throw new Error(`${script} does not exist: run "npm run build" first${name !== 'baseline' ? ', or bench the baseline alone with --target baseline' : ''}`);
  }
  const args = serverArgs(name, settings);
  const child = spawn(process.execPath, [script, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  registry.track(child);
  const stderr = new TailBuffer();
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => stderr.push(chunk));
  child.stdout.setEncoding('utf8');

  const readyLine = await new Promise<string>((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`${name} printed no ready line within ${READY_TIMEOUT_MS / 1000} s; stderr: ${stderr}`)), READY_TIMEOUT_MS);
    child.stdout.on('data', (chunk: string) => {
      buffer += chunk;
      const line = buffer.split('\n').find((l) => / ready: /.test(l));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve(line);
      }
    });
    void exited(child).then((status) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (code ${status.code}, signal ${status.signal}) before it was ready; stderr: ${stderr}`));
    });
  });
  // The patterns every consumer of the ready line uses (the line src/main.ts prints; see README.md, Flags).
  const port = /http:\/\/[^ ]*:(\d+)/.exec(readyLine);
  const appPort = /app=[^ ]*:(\d+)/.exec(readyLine);
  if (port === null || appPort === null || child.pid === undefined) {
    child.kill('SIGKILL');
    throw new Error(`${name}'s ready line has no http://...:PORT or app=...:PORT: "${readyLine}"`);
  }
  const pid = child.pid;
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return {
    name,
    protocol: 'megacomet',
    pid,
    processIds: () => [pid],
    host: HOST,
    port: Number(port[1]),
    appPort: Number(appPort[1]),
    readyLine,
    args,
    rss: () => readRss(pid),
    cpuSeconds: () => readCpuSeconds(pid),
    stats: () => queryStats(HOST, Number(appPort[1])),
    hasExited: () => child.exitCode !== null || child.signalCode !== null,
    stderrTail: () => stderr.toString(),
    exitReport: async () => {
      await Promise.race([closed, new Promise((r) => setTimeout(r, 3000))]);
      return `exit code ${child.exitCode}, signal ${child.signalCode}; stderr ends: ${stderr.toString().trim().slice(-1500)}`;
    },
    stop: (graceMs = 5000) => stopChild(child, 'SIGTERM', graceMs),
  };
}
