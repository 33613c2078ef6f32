// A real redis-server (Debian's redis-server, installed by .ci/run) for the
// --redis tests: started on a free loopback port with a temporary directory,
// stopped by PID in the test's teardown. Tests skip with the reason when the
// binary is missing.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Test } from 'tap';
import { Redis } from 'ioredis';

export const REDIS_SERVER = process.env.MEGACOMET_REDIS_SERVER ?? '/usr/bin/redis-server';

/** Why the Redis tests cannot run here, or undefined. */
export function redisMissing(): string | undefined {
  if (!existsSync(REDIS_SERVER)) return `${REDIS_SERVER} is missing (apt-get install redis-server; .ci/run installs it)`;
  const version = spawnSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' }).stdout;
  const major = Number(/v=(\d+)/.exec(version)?.[1] ?? 0);
  if (major < 7) return `redis-server 7.0 or later is needed for functions, found: ${version.trim()}`;
  return undefined;
}

export interface RedisOptions {
  /** appendonly yes (with this appendfsync); default: no persistence. */
  appendfsync?: 'always' | 'everysec';
  /** Extra config lines as flags, e.g. ['--maxmemory', '2mb']. */
  args?: readonly string[];
  /** Lines of a config file it starts from (a sentinel needs a file it can rewrite). */
  config?: readonly string[];
  /** Run as a Redis Sentinel (with `config`). */
  sentinel?: boolean;
  /** A node of a Redis Cluster (startRedisCluster): its bus port, port + 10000, must be free too. */
  clusterNode?: boolean;
  /** Serve TLS only, with the test certificate (TLS_CERT, for 127.0.0.1); url is then rediss://. */
  tls?: boolean;
}

/** The self-signed certificate (and key) of TLS test Redises: test/fixtures/redis-tls-*.pem, valid for 127.0.0.1 until 2126. */
export const TLS_CERT = fileURLToPath(new URL('../fixtures/redis-tls-cert.pem', import.meta.url));
const TLS_KEY = fileURLToPath(new URL('../fixtures/redis-tls-key.pem', import.meta.url));

function writeConfig(dir: string, lines: readonly string[]): string {
  const path = join(dir, 'redis.conf');
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

/**
 * A Redis Sentinel (redis-server --sentinel) watching `masterPort` as `name`, quick to fail over
 * (down after 1 s); its port in `.port`.
 */
export function startSentinel(t: Test, masterPort: number, name: string): Promise<RunningRedis> {
  return startRedis(t, {
    config: [
      `sentinel monitor ${name} 127.0.0.1 ${masterPort} 1`,
      `sentinel down-after-milliseconds ${name} 1000`,
      `sentinel failover-timeout ${name} 5000`,
      `sentinel parallel-syncs ${name} 1`,
    ],
    sentinel: true,
  });
}

export interface RunningRedis {
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  /** A client for the test's own checks (closed in teardown). */
  client(): Redis;
  /** Stops it (SIGTERM: it writes its append-only file and exits) and waits. */
  stop(): Promise<void>;
  /** Stops it hard (SIGKILL) and waits. */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory; resolves when it accepts connections. */
  restart(): Promise<void>;
}

async function isFree(port: number): Promise<boolean> {
  const server = createServer();
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (ok) await new Promise<void>((resolve) => server.close(() => resolve()));
  return ok;
}

/**
 * A Redis Cluster of `masters` masters with `replicas` replicas each (redis-cli --cluster create),
 * every slot covered, failing over 2 s after a master stops answering; resolves when each node says
 * cluster_state:ok. Its URL: redis-cluster://HOST:PORT,...
 */
export async function startRedisCluster(t: Test, masters = 3, replicas = 0): Promise<{ nodes: RunningRedis[]; masters: RunningRedis[]; url: string }> {
  const nodes = await Promise.all(Array.from({ length: masters * (1 + replicas) }, () => startRedis(t, { clusterNode: true })));
  const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
  const cli = join(dirname(REDIS_SERVER), 'redis-cli');
  const made = spawnSync(cli, ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicas), '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 });
  if (made.status !== 0) throw new Error(`redis-cli --cluster create failed: ${made.stdout} ${made.stderr}`);
  const deadline = Date.now() + 20_000;
  for (const node of nodes) {
    const c = node.client();
    while (!/cluster_state:ok/.test((await c.call('CLUSTER', 'INFO')) as string)) {
      if (Date.now() > deadline) throw new Error(`the cluster did not reach cluster_state:ok within 20 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const roles = await Promise.all(nodes.map(async (n) => ((await n.client().call('ROLE')) as [string])[0]));
  // Every replica in sync before the test relies on it.
  for (const [i, node] of nodes.entries()) {
    if (roles[i] === 'master') continue;
    while (!/master_link_status:up/.test(await node.client().info('replication'))) {
      if (Date.now() > deadline) throw new Error('a cluster replica did not sync within 20 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return { nodes, masters: nodes.filter((_, i) => roles[i] === 'master'), url: `redis-cluster://${addresses.join(',')}` };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

/** What the test process's exit must still do: kill the redis-servers whose tests never finished. */
const atExit = new Set<() => void>();
function runAtExit(): void {
  for (const kill of atExit) kill();
}

export async function startRedis(t: Test, options: RedisOptions = {}): Promise<RunningRedis> {
  let port = await freePort();
  while (options.clusterNode === true && (port + 10000 > 65535 || !(await isFree(port + 10000)))) port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'megacomet-redis-'));
  const args = [...(options.config === undefined ? [] : [writeConfig(dir, options.config)])];
  if (options.tls === true) {
    args.push('--port', '0', '--tls-port', String(port), '--tls-cert-file', TLS_CERT, '--tls-key-file', TLS_KEY, '--tls-ca-cert-file', TLS_CERT, '--tls-auth-clients', 'no');
  } else {
    args.push('--port', String(port));
  }
  args.push('--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no', '--logfile', join(dir, 'redis.log'));
  // A sentinel stores nothing and refuses the persistence settings.
  if (options.sentinel === true) args.push('--sentinel');
  else if (options.clusterNode === true) {
    args.push('--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000', '--save', '', '--appendonly', 'no');
  }
  else if (options.appendfsync !== undefined) args.push('--save', '', '--appendonly', 'yes', '--appendfsync', options.appendfsync);
  else args.push('--save', '', '--appendonly', 'no');
  args.push(...(options.args ?? []));
  const tlsOption = options.tls === true ? { tls: { ca: readFileSync(TLS_CERT) } } : {};
  let child: ChildProcess;
  let exited: Promise<void>;
  const clients: Redis[] = [];

  const launch = async (): Promise<void> => {
    child = spawn(REDIS_SERVER, args, { stdio: 'ignore' });
    exited = new Promise((resolve) => child.once('exit', () => resolve()));
    // Ready when it answers PING.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, ...tlsOption });
      probe.on('error', () => {});
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        probe.disconnect();
        if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${port} within 10 s (log: ${join(dir, 'redis.log')})`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  };
  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    await exited;
  };

  await launch();
  // A test that never finishes gets no teardown: no redis-server may outlive the test process.
  const killOnExit = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  atExit.add(killOnExit);
  if (!process.listeners('exit').includes(runAtExit)) process.on('exit', runAtExit);
  t.teardown(async () => {
    atExit.delete(killOnExit);
    for (const c of clients) c.disconnect();
    await signal('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    port,
    url: `${options.tls === true ? 'rediss' : 'redis'}://127.0.0.1:${port}`,
    get pid() {
      return child.pid!;
    },
    client() {
      const c = new Redis({ port, host: '127.0.0.1', ...tlsOption });
      c.on('error', () => {});
      clients.push(c);
      return c;
    },
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    restart: launch,
  };
}
