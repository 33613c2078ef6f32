// Command-line configuration: parsed and validated once, defaults applied in
// one place, frozen before any thread sees it. Every bad value gets a message
// that names the flag and what it expects (ConfigError, exit code 2).
import { isIP } from 'node:net';
import { availableParallelism, totalmem } from 'node:os';
import { HEADER_TEXT_RULE, isHeaderText } from './protocol/header-text.js';
import { parseRedisUrl, REDIS_URL_RULE } from './cluster/redis-url.js';

export interface Config {
  readonly threads: number;
  readonly host: string;
  readonly port: number;
  readonly portPerThread: boolean;
  readonly pollTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly headTimeoutMs: number;
  /** 0 means "as many as the open-file limit allows", resolved at start-up. */
  readonly maxConnections: number;
  readonly corsOrigin: string;
  /** GET /events: a heartbeat comment line after this long without other bytes. */
  readonly heartbeatMs: number;
  /** GET /events: unsent bytes past this close a stream (its client resumes by Last-Event-ID). */
  readonly maxStreamBuffer: number;
  readonly appHost: string;
  readonly appPort: number;
  readonly appSecret: string | undefined;
  readonly secret: string | undefined;
  readonly ttlMs: number;
  readonly maxQueue: number;
  readonly maxLine: number;
  readonly maxMessage: number;
  /** Bytes of queued messages and client state the server may hold (--max-memory). */
  readonly maxMemory: number;
  /** Where GET /metrics (Prometheus) is served; undefined: no metrics port, and lag is not measured. */
  readonly metricsHost: string;
  readonly metricsPort: number | undefined;
  /** --takeover: start by taking over from the process on the control socket (src/takeover/). */
  readonly takeover: boolean;
  /** --control-socket; undefined: derived from the ports (src/takeover/control-path.ts). */
  readonly controlSocket: string | undefined;
  /** --redis: queues in this Redis, shared with every node given the same one (src/cluster/); undefined: embedded. */
  readonly redis: string | undefined;
  /** --redis-wait: replicas that must have a send before its ok (Redis WAIT); 0: none. */
  readonly redisWait: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Thrown for --help: not an error, the caller prints usage and exits 0. */
export class HelpRequested extends Error {
  override name = 'HelpRequested';
}

type Kind = 'int' | 'port' | 'seconds' | 'bytes' | 'text' | 'header' | 'host' | 'flag' | 'redis-url';

/**
 * One flag: where its value goes, how it is read, and its default, written
 * here only (the help text shows it). `default` is in the flag's own unit
 * (seconds for durations); undefined means "none".
 */
interface FlagSpec {
  readonly key: keyof Config;
  readonly kind: Kind;
  readonly help: string;
  readonly default: number | string | boolean | undefined;
  /** Shown in --help instead of the default's value, for defaults decided at start. */
  readonly defaultText?: string;
  readonly min?: number;
  readonly max?: number;
}

const FLAGS: Readonly<Record<string, FlagSpec>> = {
  threads: { key: 'threads', kind: 'int', min: 1, max: 256, default: Math.max(1, availableParallelism()), defaultText: 'CPU count', help: 'worker threads, each with its own listening socket and epoll set; past the CPU count, new connections go to as many of them as there are CPUs and the rest stay idle' },
  host: { key: 'host', kind: 'host', default: '0.0.0.0', help: 'numeric address the long-poll HTTP server binds' },
  port: { key: 'port', kind: 'port', default: 8080, help: 'long-poll HTTP port (0 = any free port)' },
  'port-per-thread': { key: 'portPerThread', kind: 'flag', default: false, help: 'worker i listens on port+i instead of all sharing one port' },
  'poll-timeout': { key: 'pollTimeoutMs', kind: 'seconds', min: 0.1, max: 86400, default: 25, help: 'seconds a poll is held before the empty answer' },
  'keepalive-timeout': { key: 'keepAliveTimeoutMs', kind: 'seconds', min: 0.1, max: 86400, default: 60, help: 'seconds an idle keep-alive connection is kept' },
  'head-timeout': { key: 'headTimeoutMs', kind: 'seconds', min: 0.1, max: 3600, default: 10, help: 'seconds a connection may take to send a complete request head' },
  'max-connections': { key: 'maxConnections', kind: 'int', min: 1, max: 100_000_000, default: 0, defaultText: 'the open-file limit', help: 'connections held at most by the whole process; later ones get 503' },
  heartbeat: { key: 'heartbeatMs', kind: 'seconds', min: 0.1, max: 3600, default: 15, help: 'seconds of silence after which an event stream (GET /events) gets a heartbeat comment line' },
  'max-stream-buffer': { key: 'maxStreamBuffer', kind: 'bytes', min: 4096, max: 2 ** 31, default: 1 << 20, help: 'unsent bytes an event stream may have; past it the stream is closed and its client resumes by Last-Event-ID (suffixes K, M, G)' },
  'cors-origin': { key: 'corsOrigin', kind: 'header', default: '*', help: 'Access-Control-Allow-Origin on every response' },
  'app-host': { key: 'appHost', kind: 'text', default: '127.0.0.1', help: 'address of the app (JSON lines over TCP) server' },
  'app-port': { key: 'appPort', kind: 'port', default: 9090, help: 'app server port (0 = any free port)' },
  'app-secret': { key: 'appSecret', kind: 'text', default: undefined, help: 'apps must {"op":"auth","secret":...} with this first' },
  secret: { key: 'secret', kind: 'text', default: undefined, help: 'polls must carry token=base64url(HMAC-SHA256(secret, client))' },
  ttl: { key: 'ttlMs', kind: 'seconds', min: 0.1, max: 31_536_000, default: 60, help: 'seconds an unacknowledged message is kept' },
  'max-queue': { key: 'maxQueue', kind: 'int', min: 1, max: 10_000_000, default: 1000, help: 'unacknowledged messages per client; more are refused with queue_full' },
  'max-line': { key: 'maxLine', kind: 'int', min: 64, max: 1 << 30, default: 1 << 20, help: 'bytes in one app request line; longer lines close the connection' },
  'max-message': { key: 'maxMessage', kind: 'int', min: 1, max: 512 * 1024, default: 64 << 10, help: "bytes of one message's data; larger ones are refused with too_large" },
  'max-memory': {
    key: 'maxMemory', kind: 'bytes', min: 1 << 20, max: 2 ** 50, default: Math.floor(totalmem() / 4),
    defaultText: `a quarter of the machine's memory (${formatBytes(Math.floor(totalmem() / 4))} here)`,
    help: 'bytes of queued messages and client state the server may hold; past it sends are refused with memory_full (suffixes K, M, G, T)',
  },
  'metrics-host': { key: 'metricsHost', kind: 'text', default: '127.0.0.1', help: 'address of the Prometheus metrics port (an operator port: keep it off the public network)' },
  'metrics-port': { key: 'metricsPort', kind: 'port', default: undefined, defaultText: 'off', help: 'serve Prometheus metrics at GET /metrics on this port (0 = any free port, shown in the ready line)' },
  takeover: { key: 'takeover', kind: 'flag', default: false, help: 'take over from the process serving the control socket: its queues, ids and ports, without losing a message (docs/OPERATIONS.md)' },
  'control-socket': {
    key: 'controlSocket', kind: 'text', default: undefined,
    defaultText: '$XDG_RUNTIME_DIR/megacomet-PORT-APPPORT.sock, or megacomet-UID/ under the temp directory',
    help: 'Unix socket (mode 0600) on which a new process started with --takeover asks this one for its state',
  },
  redis: {
    key: 'redis', kind: 'redis-url', default: undefined, defaultText: 'off: queues in this process',
    help: 'redis://[:PASSWORD@]HOST:PORT[/DB] (rediss:// for TLS), redis-sentinel://HOST:PORT[,HOST:PORT...]/MASTER[/DB] or redis-cluster://HOST:PORT[,HOST:PORT...]: keep queues in this Redis (7.0 or later, maxmemory-policy noeviction); every node given the same one serves the same clients (docs/OPERATIONS.md); groups are not available with it',
  },
  'redis-wait': {
    key: 'redisWait', kind: 'int', min: 0, max: 16, default: 0,
    help: "with --redis: a send is answered ok only once this many of Redis's replicas have it (WAIT, 1 s at most; otherwise store_unavailable, saying it was queued), so a failover loses no acknowledged send",
  },
};

/** A flag's default as the Config holds it (durations in ms). */
function defaultValue(spec: FlagSpec): unknown {
  return spec.kind === 'seconds' ? Math.round((spec.default as number) * 1000) : spec.default;
}

function defaultText(spec: FlagSpec): string {
  if (spec.defaultText !== undefined) return spec.defaultText;
  if (spec.default === undefined) return 'none';
  if (spec.default === false) return 'off';
  return String(spec.default);
}

export function usage(): string {
  const lines = [
    'Usage: node dist/main.js [flags]',
    '',
    'MegaComet: an HTTP long-poll (comet) server. Browsers poll GET /poll?client=ID&since=CURSOR on --port',
    '(or stream GET /events?client=ID, Server-Sent Events); apps send newline-delimited JSON',
    '({"op":"send","client":"ID","data":...}, or join/leave/publish for groups) to --app-port.',
    'Every op and error: docs/PROTOCOL.md.',
    'Durations are in seconds (decimals allowed).',
    '',
    'Flags:',
  ];
  for (const [name, spec] of Object.entries(FLAGS)) {
    const arg = spec.kind === 'flag' ? '' : spec.kind === 'seconds' ? ' S' : spec.kind === 'bytes' ? ' BYTES' : spec.kind === 'int' || spec.kind === 'port' ? ' N' : spec.kind === 'redis-url' ? ' URL' : ' TEXT';
    lines.push(`  --${(name + arg).padEnd(22)} ${spec.help} (default: ${defaultText(spec)})`);
  }
  lines.push(`  --${'help'.padEnd(22)} print this text and exit`);
  lines.push(
    '',
    'Signals: SIGINT/SIGTERM stop accepting, answer held polls and exit 0 (queued messages are lost, unless they are in Redis: --redis).',
    'SIGUSR2 starts a new process with the same flags plus --takeover, which takes over every queue and the ports; this one then exits 0.',
  );
  return lines.join('\n');
}

function expectation(spec: FlagSpec): string {
  switch (spec.kind) {
    case 'int':
      return `a whole number from ${spec.min} to ${spec.max}`;
    case 'port':
      return 'a port number from 0 to 65535';
    case 'seconds':
      return `a number of seconds from ${spec.min} to ${spec.max}`;
    case 'bytes':
      return `a number of bytes from ${formatBytes(spec.min!)} to ${formatBytes(spec.max!)}, optionally with a suffix K, M, G or T (powers of 1024)`;
    case 'text':
      return 'a non-empty text';
    case 'header':
      return HEADER_TEXT_RULE;
    case 'host':
      return 'a numeric IPv4 or IPv6 address such as 0.0.0.0 or ::';
    case 'flag':
      return 'no value';
    case 'redis-url':
      return `a URL ${REDIS_URL_RULE}`;
  }
}

function parseValue(name: string, spec: FlagSpec, raw: string): number | string {
  const bad = (): ConfigError => new ConfigError(`--${name} expects ${expectation(spec)}, got ${JSON.stringify(raw)}`);
  switch (spec.kind) {
    case 'int':
    case 'port': {
      if (!/^[0-9]+$/.test(raw)) throw bad();
      const n = Number(raw);
      const min = spec.kind === 'port' ? 0 : spec.min!;
      const max = spec.kind === 'port' ? 65535 : spec.max!;
      if (n < min || n > max) throw bad();
      return n;
    }
    case 'bytes': {
      const m = /^([0-9]+)([KMGT]?)$/i.exec(raw);
      if (m === null) throw bad();
      const n = Number(m[1]) * 1024 ** ' KMGT'.indexOf((m[2] || ' ').toUpperCase());
      if (!Number.isSafeInteger(n) || n < spec.min! || n > spec.max!) throw bad();
      return n;
    }
    case 'seconds': {
      if (!/^[0-9]+(\.[0-9]+)?$/.test(raw)) throw bad();
      const s = Number(raw);
      if (s < spec.min! || s > spec.max!) throw bad();
      return Math.round(s * 1000);
    }
    case 'text':
      if (raw.length === 0 || /[\r\n]/.test(raw)) throw bad();
      return raw;
    case 'header':
      if (!isHeaderText(raw)) throw bad();
      return raw;
    case 'host':
      // The engine binds without name resolution (no blocking DNS in a worker's loop).
      if (isIP(raw) === 0) throw bad();
      return raw;
    case 'flag':
      throw bad();
    case 'redis-url': {
      const target = parseRedisUrl(raw);
      if (typeof target === 'string') throw new ConfigError(`--${name} expects ${expectation(spec)}: ${target} in ${JSON.stringify(raw)}`);
      return raw;
    }
  }
}

/**
 * Parses argv (without node and the script). Throws ConfigError or HelpRequested.
 *
 * A hand-written loop rather than node:util's parseArgs: that one takes the
 * last of a repeated flag silently, reads `--threads --port` as a threads
 * value of "--port" unless strict, and words its errors without the value a
 * flag expects; wrapping it to fix all three would take longer than this.
 */
export function parseArgs(argv: readonly string[]): Config {
  const out: Record<string, unknown> = {};
  for (const spec of Object.values(FLAGS)) out[spec.key] = defaultValue(spec);
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') throw new HelpRequested();
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument ${JSON.stringify(arg)}: flags start with -- (see --help)`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const spec = FLAGS[name];
    if (spec === undefined) throw new ConfigError(`unknown flag --${name} (see --help for the list)`);
    if (seen.has(name)) throw new ConfigError(`--${name} is given twice`);
    seen.add(name);
    if (spec.kind === 'flag') {
      if (eq !== -1) throw new ConfigError(`--${name} takes no value`);
      out[spec.key] = true;
      continue;
    }
    let raw: string;
    if (eq !== -1) raw = arg.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined) throw new ConfigError(`--${name} expects ${expectation(spec)}, got nothing`);
      raw = next;
      i++;
    }
    out[spec.key] = parseValue(name, spec, raw);
  }
  const config = out as unknown as Config;
  if (config.portPerThread && config.port !== 0 && config.port + config.threads - 1 > 65535) {
    throw new ConfigError(`--port-per-thread needs ports ${config.port}..${config.port + config.threads - 1}, past 65535: lower --port or --threads`);
  }
  if (config.redisWait > 0 && config.redis === undefined) {
    throw new ConfigError('--redis-wait waits for the replicas of the Redis given with --redis: give --redis too');
  }
  return Object.freeze(config);
}

/** 1536 -> "1.5 KiB": for help texts and messages. */
function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}
