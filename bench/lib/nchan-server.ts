// Nchan (nginx + libnginx-mod-nchan) as a bench target: the config template in bench/nchan/
// filled for one run, nginx started in the foreground in its own temporary directory (pid file,
// error log, temp paths), and stopped by PID. Installed with NCHAN_INSTALL_COMMAND.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { ServerStats } from './app-client.js';
import { TailBuffer, stopChild } from './child-exit.js';
import { freePort } from './free-port.js';
import type { ProcessRegistry } from './process-registry.js';
import type { RunningServer, ServerSettings } from './server-process.js';
import { readCpuSeconds, readRss } from './system-memory.js';

export const NCHAN_INSTALL_COMMAND = 'apt-get install -y nginx-light libnginx-mod-nchan';

const MODULE_PATHS = ['/usr/lib/nginx/modules/ngx_nchan_module.so', '/usr/share/nginx/modules/ngx_nchan_module.so'];
const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 15_000;
/** Nchan's memstore: every message kept for --ttl in shared memory (a few hundred bytes each). */
const SHARED_MEMORY = '512m';

export interface NchanInstall {
  nginx: string;
  module: string;
}

/** Where nginx and the Nchan module are, or null when either is missing. */
export function findNchan(): NchanInstall | null {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  const nginx = dirs.map((d) => join(d, 'nginx')).find((p) => existsSync(p));
  const module = MODULE_PATHS.find((p) => existsSync(p));
  return nginx === undefined || module === undefined ? null : { nginx, module };
}

export function nchanMissingMessage(): string {
  return `nginx with the Nchan module is not installed (looked for nginx on PATH and ${MODULE_PATHS.join(' or ')}): install it with "${NCHAN_INSTALL_COMMAND}"`;
}

/** Fills the {{NAME}} fields of the template; a field left unfilled is an error, not a silent blank. */
export function fillTemplate(template: string, fields: Readonly<Record<string, string | number>>): string {
  const filled = template.replace(/\{\{([A-Z_]+)\}\}/g, (_whole, name: string) => {
    const v = fields[name];
    if (v === undefined) throw new Error(`the nginx template needs {{${name}}}, which the bench did not give`);
    return String(v);
  });
  return filled;
}

/** The numbers of nchan_stub_status ("subscribers: 10000" ...), by name. */
export function parseStubStatus(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([a-z ]+):\s*(\d+)/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) out[m[1]] = Number(m[2]);
  }
  return out;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The PIDs whose parent is `pid` (nginx's worker), from /proc. */
function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

function isNginx(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'nginx';
  } catch {
    return false;
  }
}

function httpGet(port: number, path: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: HOST, port });
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to GET ${path} from nginx on ${HOST}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`));
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
}

export function nchanArgs(s: ServerSettings): string[] {
  const storage = s.redisUrl === undefined ? 'memstore' : `nchan_redis_server ${s.redisUrl}`;
  return [`nchan_subscriber_timeout ${s.pollTimeout}s`, `nchan_message_timeout ${s.ttl}s`, `nchan_message_buffer_length ${s.maxQueue}`, 'worker_processes 1', storage];
}

export async function startNchan(repoRoot: string, settings: ServerSettings, registry: ProcessRegistry, fileLimit: number): Promise<RunningServer> {
  const install = findNchan();
  if (install === null) throw new Error(nchanMissingMessage());
  const template = readFileSync(join(repoRoot, 'bench', 'nchan', 'nginx.conf.template'), 'utf8');
  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'megacomet-bench-nchan-'));
    mkdirSync(join(dir, 'body'));
    const port = await freePort();
    const files = Number.isFinite(fileLimit) && fileLimit > 0 ? fileLimit : 20_000;
    writeFileSync(join(dir, 'nginx.conf'), fillTemplate(template, {
      MODULE: install.module, DIR: dir, FILES: files, CONNECTIONS: Math.max(1024, files - 100), SHM: SHARED_MEMORY, PORT: port,
      POLL_TIMEOUT: settings.pollTimeout, TTL: settings.ttl, MAX_QUEUE: settings.maxQueue,
      // Redis storage (the redis scenario): Nchan's recommended form, an upstream and nchan_redis_pass.
      REDIS_UPSTREAM: settings.redisUrl === undefined ? '' : `upstream megacomet_bench_redis { nchan_redis_server ${settings.redisUrl}; }`,
      REDIS_PASS: settings.redisUrl === undefined ? '' : 'nchan_redis_pass megacomet_bench_redis;',
    }));
    const child = spawn(install.nginx, ['-p', dir, '-c', join(dir, 'nginx.conf')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    registry.track(child);
    try {
      return await whenReady(child, dir, port, settings, registry);
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e);
      await stopChild(child, 'SIGTERM', 3000);
      rmSync(dir, { recursive: true, force: true });
      // Another process took the port between freePort() and nginx's bind: try another one.
      if (!/Address already in use/.test(lastError)) break;
    }
  }
  throw new Error(`nginx (Nchan) did not start: ${lastError}`);
}

async function whenReady(child: ChildProcess, dir: string, port: number, settings: ServerSettings, registry: ProcessRegistry): Promise<RunningServer> {
  const stderr = new TailBuffer();
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => stderr.push(chunk));
  const errorLog = (): string => {
    try {
      return readFileSync(join(dir, 'error.log'), 'utf8').slice(-2000);
    } catch {
      return '';
    }
  };
  const masterPid = child.pid;
  if (masterPid === undefined) throw new Error('could not spawn nginx');
  const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const end = Date.now() + READY_TIMEOUT_MS;
  let workerPid: number | undefined;
  for (;;) {
    if (gone()) throw new Error(`nginx exited (code ${child.exitCode}) before it was ready: ${stderr.toString()} ${errorLog()}`);
    workerPid = childPids(masterPid)[0];
    if (workerPid !== undefined && (await canConnect(port))) break;
    if (Date.now() > end) throw new Error(`nginx was not listening on ${HOST}:${port} within ${READY_TIMEOUT_MS / 1000} s: ${stderr.toString()} ${errorLog()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const worker = workerPid;
  registry.trackPid(worker);
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const stats = async (): Promise<ServerStats> => {
    const answer = await httpGet(port, '/nchan_status');
    const body = answer.slice(answer.indexOf('\r\n\r\n') + 4);
    const n = parseStubStatus(body);
    const held = n['subscribers'];
    if (held === undefined) throw new Error(`nchan_stub_status gave no subscribers line: ${body.slice(0, 200)}`);
    return { connections: held, held_polls: held, clients: n['channels'] ?? 0, queued: n['stored messages'] ?? 0, raw: { ...n } } as ServerStats;
  };
  return {
    name: 'nchan',
    protocol: 'nchan',
    // The worker does all the work; memory figures read it. CPU counts master and worker.
    pid: worker,
    processIds: () => [masterPid, worker],
    host: HOST,
    port,
    appPort: port,
    readyLine: `nchan ready: http://${HOST}:${port} master=${masterPid} worker=${worker} dir=${dir}`,
    args: nchanArgs(settings),
    rss: () => readRss(worker),
    cpuSeconds: () => readCpuSeconds(masterPid) + readCpuSeconds(worker),
    stats,
    hasExited: gone,
    stderrTail: () => `${stderr.toString()} ${errorLog()}`,
    exitReport: async () => {
      await Promise.race([closed, new Promise((r) => setTimeout(r, 3000))]);
      return `exit code ${child.exitCode}, signal ${child.signalCode}; error log ends: ${errorLog().slice(-1500)}`;
    },
    stop: async (graceMs = 5000) => {
      // SIGTERM: nginx's fast shutdown; the master waits for its worker, then exits.
      const status = await stopChild(child, 'SIGTERM', graceMs);
      // The master ends its worker first; should it have been killed, the worker is still ours.
      if (isNginx(worker)) {
        try {
          process.kill(worker, 'SIGKILL');
        } catch {
          // Gone after all.
        }
      }
      registry.forget(worker);
      rmSync(dir, { recursive: true, force: true });
      return status;
    },
  };
}

