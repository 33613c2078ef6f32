// The Redis the redis scenario's nodes share (MegaComet --redis, Nchan's Redis storage): Debian's
// redis-server on a free loopback port, a temporary directory, no persistence, tracked by the
// run's process registry so a failed run leaves nothing behind. One for the whole run, used by
// every target in turn and emptied before each (sharedBenchRedis).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Redis } from 'ioredis';
import { TailBuffer } from './child-exit.js';
import { freePort } from './free-port.js';
import type { ProcessRegistry } from './process-registry.js';
import { readCpuSeconds } from './system-memory.js';

export const REDIS_INSTALL_COMMAND = 'apt-get install -y redis-server';
const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 10_000;

export function findRedisServer(): string | null {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/bin', '/usr/sbin'];
  return dirs.map((d) => join(d, 'redis-server')).find((p) => existsSync(p)) ?? null;
}

export function redisMissingMessage(): string {
  return `redis-server is not installed (looked on PATH and /usr/bin): install it with "${REDIS_INSTALL_COMMAND}"`;
}

export interface BenchRedis {
  readonly url: string;
  readonly pid: number;
  /** INFO memory's used_memory, bytes. */
  usedMemory(): Promise<number>;
  /** Keys in the database (DBSIZE). */
  keys(): Promise<number>;
  cpuSeconds(): number;
  /** Whether the process is still there (a failed scenario's killAll ends it). */
  alive(): boolean;
  /** Empties it: every key and function (the next target starts from the same empty Redis). */
  reset(): Promise<void>;
  /** Kills it and removes its directory, synchronously (it runs at the bench process's exit). */
  stopNow(): void;
}

let shared: BenchRedis | null = null;

/**
 * The run's one Redis, emptied, started at the first call (again if a failure killed it); stopped
 * when the bench process exits.
 */
export async function sharedBenchRedis(registry: ProcessRegistry): Promise<BenchRedis> {
  if (shared !== null && shared.alive()) {
    await shared.reset();
    return shared;
  }
  const redis = await startBenchRedis(registry);
  // One killed by a failed scenario's killAll leaves its directory.
  shared?.stopNow();
  if (shared === null) process.once('exit', () => shared?.stopNow());
  shared = redis;
  return redis;
}

async function startBenchRedis(registry: ProcessRegistry): Promise<BenchRedis> {
  const binary = findRedisServer();
  if (binary === null) throw new Error(redisMissingMessage());
  const dir = mkdtempSync(join(tmpdir(), 'megacomet-bench-redis-'));
  const port = await freePort();
  const child = spawn(binary, ['--port', String(port), '--bind', HOST, '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  registry.track(child);
  const output = new TailBuffer();
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => output.push(chunk));
  const client = new Redis({ host: HOST, port, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: (n) => (n > 100 ? null : 50) });
  client.on('error', () => {});
  const end = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited (code ${child.exitCode}) before it was ready: ${output.toString()}`);
    try {
      if (client.status === 'wait') await client.connect();
      await client.ping();
      break;
    } catch {
      if (Date.now() > end) throw new Error(`redis-server did not answer on ${HOST}:${port} within ${READY_TIMEOUT_MS / 1000} s: ${output.toString()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const pid = child.pid!;
  return {
    url: `redis://${HOST}:${port}`,
    pid,
    async usedMemory() {
      const info = await client.info('memory');
      const m = /^used_memory:(\d+)/m.exec(info);
      if (m === null) throw new Error(`INFO memory has no used_memory line: ${info.slice(0, 200)}`);
      return Number(m[1]);
    },
    keys: () => client.dbsize(),
    cpuSeconds: () => readCpuSeconds(pid),
    alive: () => child.exitCode === null && child.signalCode === null,
    async reset() {
      await client.flushall();
      await client.call('FUNCTION', 'FLUSH');
    },
    stopNow() {
      client.disconnect();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
