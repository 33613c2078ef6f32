// Starts the real server (`node dist/main.js`) as a child process, the way an
// operator would, and parses the ready line src/main.ts prints (shown in
// README.md, Flags; the flags themselves are in the table there and in
// `node dist/main.js --help`):
//   megacomet ready: http://HOST:PORT app=HOST:PORT threads=N max-connections=N fd-limit=N[ metrics=HOST:PORT]
// (the metrics part only with --metrics-port).
// Every server is hard-killed by PID in the test's teardown, so a failing test
// never leaves a process behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { defaultControlPath } from '../../src/takeover/control-path.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

export const READY_PREFIX = 'megacomet ready:';
export const READY_LINE =
  /^megacomet ready: http:\/\/(\S+):(\d+) app=(\S+):(\d+) threads=(\d+) max-connections=(\d+) fd-limit=(\d+)(?: metrics=(\S+):(\d+))?$/;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunningServer {
  readonly pid: number;
  readonly httpPort: number;
  readonly appPort: number;
  /** With --metrics-port: the port GET /metrics is served on. */
  readonly metricsPort: number | undefined;
  readonly threads: number;
  readonly maxConnections: number;
  readonly fdLimit: number;
  readonly readyLine: string;
  /** Everything the server wrote to stdout / stderr so far. */
  stdout(): string;
  stderr(): string;
  /** Settles when the process has exited. */
  readonly exited: Promise<Exit>;
  /** True once the process has exited. */
  hasExited(): boolean;
  /** Sends `signal` and waits (up to `timeoutMs`) for the exit; SIGKILLs and throws if it does not come. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<Exit>;
  /** SIGKILL by PID if still running; waits for the exit. */
  kill(): Promise<void>;
  /** The server is about to exit by itself (it hands over to a new process): its exit is not a failure. */
  expectExit(): void;
}

/** Flags every test server gets unless the test passes them itself: loopback only, ports chosen by the kernel. */
const DEFAULT_FLAGS: ReadonlyArray<readonly [string, string]> = [
  ['--host', '127.0.0.1'],
  ['--port', '0'],
  ['--app-port', '0'],
  ['--threads', '2'],
];

export function withDefaultFlags(args: readonly string[], omit: readonly string[] = []): string[] {
  const out = [...args];
  for (const [flag, value] of DEFAULT_FLAGS) {
    if (!args.includes(flag) && !omit.includes(flag)) out.push(flag, value);
  }
  return out;
}

export interface StartOptions {
  /** Give up waiting for the ready line after this long (default 20 s). */
  readyTimeoutMs?: number;
  /** Default flags not to add (e.g. ['--threads'] to see the server's own default). */
  omitDefaults?: readonly string[];
  /** Variables added to the server's environment. */
  env?: Readonly<Record<string, string>>;
  /**
   * The server's NODE_OPTIONS, exactly ('' for none). The test runner's
   * process hooks put their own NODE_OPTIONS (an ESM loader) into every child
   * node process, whatever env a spawn asks for; that loader gives each
   * isolate a hooks thread and costs the server some 57 MB of RSS. With this
   * set, the server is spawned through env(1), which replaces NODE_OPTIONS
   * just before node starts: memory probes then measure the server as an
   * operator runs it.
   */
  nodeOptions?: string;
}

/** A server run as an operator runs it: no test-runner hooks in its NODE_OPTIONS (see StartOptions.nodeOptions). */
export const PLAIN_NODE: StartOptions = { nodeOptions: '' };

function assertBuilt(): void {
  if (!existsSync(MAIN)) {
    throw new Error(`${MAIN} does not exist: build the server first with \`npm run build\` (npm test does it).`);
  }
}

function watchExit(child: ChildProcess): Promise<Exit> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

function killByPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone: nothing to clean up.
  }
}

/** Servers still running; a test that never finishes (a hung await) gets no teardown, so the process's exit kills them. */
const running = new Set<number>();

function killAtExit(pid: number, exited: Promise<unknown>): void {
  if (!process.listeners('exit').includes(killRunning)) process.on('exit', killRunning);
  running.add(pid);
  void exited.then(() => running.delete(pid));
}

function killRunning(): void {
  for (const pid of running) killByPid(pid, 'SIGKILL');
}

/**
 * Spawns the server with `args` (plus DEFAULT_FLAGS where absent), waits for
 * its ready line and registers a hard kill in `t`'s teardown.
 */
export async function startServer(t: Test, args: readonly string[] = [], options: StartOptions = {}): Promise<RunningServer> {
  assertBuilt();
  const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
  const node = [process.execPath, MAIN, ...withDefaultFlags(args, options.omitDefaults)];
  const [command, ...commandArgs] =
    options.nodeOptions === undefined
      ? node
      : ['env', '-u', 'NODE_OPTIONS', ...(options.nodeOptions === '' ? [] : [`NODE_OPTIONS=${options.nodeOptions}`]), ...node];
  const child = spawn(command as string, commandArgs, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.env === undefined ? {} : { env: { ...process.env, ...options.env } }),
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn the server (no pid)');
  let out = '';
  let err = '';
  let exitedFlag = false;
  const exited = watchExit(child).then((exit) => {
    exitedFlag = true;
    return exit;
  });
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    err += chunk;
  });

  let exitExpected = false;
  let ready = false;
  /** The control socket file a hard kill leaves behind (a later server replaces it; removed here to leave no litter). */
  let leftSocket: string | undefined;
  const kill = async (): Promise<void> => {
    exitExpected = true;
    if (!exitedFlag) killByPid(pid, 'SIGKILL');
    await exited;
    if (leftSocket !== undefined) rmSync(leftSocket, { force: true });
  };
  t.teardown(kill);
  killAtExit(pid, exited);
  // A server that dies under a test is the finding, not a side effect: say so plainly, with its last words.
  void exited.then((exit) => {
    if (exitExpected || !ready) return;
    try {
      t.fail(`the server (pid ${pid}) exited unexpectedly (code ${exit.code}, signal ${exit.signal}); stderr ends:\n${err.slice(-2000)}`);
    } catch {
      // The test already ended; the failing subtests show the effect.
    }
  });

  const readyLine = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`server did not print its ready line within ${readyTimeoutMs} ms; stderr:\n${err}`));
    }, readyTimeoutMs);
    const onData = (chunk: string): void => {
      out += chunk;
      const line = out.split('\n').find((l) => l.startsWith(READY_PREFIX));
      if (line !== undefined && out.includes('\n', out.indexOf(READY_PREFIX))) {
        clearTimeout(timer);
        resolve(line.replace(/\r$/, ''));
      }
    };
    child.stdout?.on('data', onData);
    void exited.then((exit) => {
      clearTimeout(timer);
      reject(new Error(`server exited (code ${exit.code}, signal ${exit.signal}) before it was ready; stderr:\n${err}`));
    });
  });

  ready = true;
  const m = READY_LINE.exec(readyLine);
  if (m !== null && !args.includes('--control-socket')) leftSocket = defaultControlPath(Number(m[2]), Number(m[4]));
  if (m === null) {
    await kill();
    throw new Error(`ready line does not match the format in README.md (printed by src/main.ts): ${JSON.stringify(readyLine)}`);
  }

  return {
    pid,
    httpPort: Number(m[2]),
    appPort: Number(m[4]),
    metricsPort: m[9] === undefined ? undefined : Number(m[9]),
    threads: Number(m[5]),
    maxConnections: Number(m[6]),
    fdLimit: Number(m[7]),
    readyLine,
    stdout: () => out,
    stderr: () => err,
    exited,
    hasExited: () => exitedFlag,
    kill,
    expectExit: () => {
      exitExpected = true;
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 5_000): Promise<Exit> {
      exitExpected = true;
      killByPid(pid, signal);
      const result = await exitWithin(exited, timeoutMs);
      if (result === 'late') {
        await kill();
        throw new Error(`server did not exit within ${timeoutMs} ms of ${signal}; stderr:\n${err}`);
      }
      return result;
    },
  };
}

/** The exit, or 'late' if it has not come within `timeoutMs`. */
async function exitWithin(exited: Promise<Exit>, timeoutMs: number): Promise<Exit | 'late'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), timeoutMs);
  });
  try {
    return await Promise.race([exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

export interface CliRun extends Exit {
  stdout: string;
  stderr: string;
}

/** Runs `node dist/main.js ...args` to completion (for --help and bad flags); SIGKILLs it after `timeoutMs`. */
export async function runCli(t: Test, args: readonly string[], timeoutMs = 10_000): Promise<CliRun> {
  assertBuilt();
  const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid;
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = watchExit(child);
  if (pid !== undefined) t.teardown(() => killByPid(pid, 'SIGKILL'));
  const result = await exitWithin(exited, timeoutMs);
  if (result === 'late') {
    if (pid !== undefined) killByPid(pid, 'SIGKILL');
    await exited;
    throw new Error(`\`node dist/main.js ${args.join(' ')}\` still running after ${timeoutMs} ms; stdout:\n${stdout}\nstderr:\n${stderr}`);
  }
  // 'exit' can come before the pipes are drained: wait for them to close.
  await Promise.all([
    new Promise((r) => (child.stdout?.readableEnded ? r(null) : child.stdout?.once('close', r))),
    new Promise((r) => (child.stderr?.readableEnded ? r(null) : child.stderr?.once('close', r))),
  ]);
  return { ...result, stdout, stderr };
}
