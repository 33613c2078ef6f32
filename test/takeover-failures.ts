// When a takeover cannot happen, nothing is lost and someone serves
// (docs/ARCHITECTURE.md, "Restart without losing a message"): the new process
// cannot bind, a version differs, a second takeover comes while one runs, the
// new process goes away or gives up mid-handover (the old one resumes), the
// new process holds the app port without saying so (the old one hands over),
// the old process dies mid-handover (the new one serves what came).
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { AppConnection } from './helpers/app-client.js';
import { RawHttpConnection } from './helpers/http-client.js';
import { pollBody } from './helpers/poll.js';
import { runCli, startServer, type RunningServer } from './helpers/server.js';
import { controlSocketPath, expectLogged } from './helpers/takeover.js';
import { waitFor, withTimeout } from './helpers/wait.js';
import { connectUnix } from '../src/takeover/control-path.js';
import { frameJson, FrameReader, FrameType, jsonFrame, TAKEOVER_PROTOCOL, TAKEOVER_VERSION, type Frame } from '../src/takeover/frames.js';

const FAKE_OLD = fileURLToPath(new URL('./fixtures/takeover-fake-old.mjs', import.meta.url));

/** A hand-driven new process: speaks the control protocol frame by frame. */
class ScriptedNew {
  private readonly reader = new FrameReader();
  private readonly frames: Frame[] = [];
  private waiting: (() => void) | null = null;
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.reader.push(chunk);
      for (let f = this.reader.next(); f !== null; f = this.reader.next()) this.frames.push(f);
      this.waiting?.();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.waiting?.();
    });
  }

  static async open(t: Test, path: string): Promise<ScriptedNew> {
    const s = new ScriptedNew(await connectUnix(path));
    t.teardown(() => s.socket.destroy());
    return s;
  }

  send(type: FrameType, value: object): void {
    this.socket.write(jsonFrame(type, value));
  }

  hello(version = TAKEOVER_VERSION): void {
    this.send(FrameType.Hello, { protocol: TAKEOVER_PROTOCOL, version, pid: process.pid });
  }

  async next(): Promise<Frame> {
    return withTimeout(
      (async () => {
        for (;;) {
          const f = this.frames.shift();
          if (f !== undefined) return f;
          if (this.closed) throw new Error('the old process closed the control connection');
          await new Promise<void>((resolve) => (this.waiting = resolve));
          this.waiting = null;
        }
      })(),
      15_000,
      'a frame from the old process',
    );
  }

  /** Frames up to and including END. */
  async stateUntilEnd(): Promise<Frame[]> {
    const out: Frame[] = [];
    for (;;) {
      const f = await this.next();
      out.push(f);
      if (f.type === FrameType.End) return out;
    }
  }
}

/** Whether a connection to the app port is refused now. */
async function appPortRefused(port: number): Promise<boolean> {
  return AppConnection.open(port).then(
    (c) => {
      c.destroy();
      return false;
    },
    (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED',
  );
}

async function pollOnce(t: Test, port: number, client: string, since = 0): Promise<{ cursor: number; messages: unknown[] }> {
  const conn = await RawHttpConnection.open(port, t);
  const body = pollBody(await conn.get(`/poll?client=${client}&since=${since}`));
  conn.destroy();
  return body;
}

/** The old process still serves: a queued message is still there, and a new send works. */
async function stillServes(t: Test, old: RunningServer, client: string, queuedId: number): Promise<void> {
  const app = await waitFor('the app port to accept again', () => AppConnection.open(old.appPort, t).catch(() => undefined), { timeoutMs: 15_000 });
  const id = await app.sendTo(client, 'after');
  t.ok(id > queuedId, 'a new send is accepted, with a higher id');
  t.same(await pollOnce(t, old.httpPort, client), { cursor: id, messages: ['before', 'after'] }, 'the message queued before is still there');
}

/** A new process's flags: loopback, the old process's ports, one thread unless `extra` says otherwise. */
function cliFlags(path: string, extra: readonly string[] = []): string[] {
  const threads = extra.includes('--threads') ? [] : ['--threads', '1'];
  return ['--host', '127.0.0.1', '--port', '0', '--app-port', '0', ...threads, '--takeover', '--control-socket', path, ...extra];
}

t.test('--takeover with nothing to take over exits 1 and says so', async (t) => {
  const run = await runCli(t, cliFlags(controlSocketPath(t)));
  t.equal(run.code, 1);
  t.match(run.stderr, /cannot start: nothing to take over: no control socket at/);
  const noPath = await runCli(t, ['--host', '127.0.0.1', '--port', '0', '--app-port', '0', '--threads', '1', '--takeover']);
  t.equal(noPath.code, 1);
  t.match(noPath.stderr, /--takeover with --port 0 or --app-port 0 needs --control-socket/);
});

t.test('a new process that cannot bind the HTTP port ends before anything changed', async (t) => {
  const path = controlSocketPath(t);
  const old = await startServer(t, ['--threads', '1', '--control-socket', path]);
  const app = await AppConnection.open(old.appPort, t);
  const queuedId = await app.sendTo('bind', 'before');
  // The new process would listen on port+0 and port+1; something else holds port+1 (without SO_REUSEPORT).
  const blocker: Server = createServer();
  const bound = await new Promise<boolean>((resolve) => {
    blocker.once('error', () => resolve(false));
    blocker.listen(old.httpPort + 1, '127.0.0.1', () => resolve(true));
  });
  t.teardown(() => blocker.close());
  if (!bound) {
    t.comment(`skipped: port ${old.httpPort + 1} is taken already; the test needs it free to block it`);
    return;
  }
  const run = await runCli(t, cliFlags(path, ['--threads', '2', '--port-per-thread']));
  t.equal(run.code, 1, 'the new process exits 1');
  t.match(run.stderr, /cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/, 'and says why');
  await waitFor('the old process to log it', () => /went away before taking over; nothing changed/.test(old.stderr()));
  t.equal(app.isClosed, false, 'the old process never stopped taking sends');
  await stillServes(t, old, 'bind', queuedId);
});

t.test('a new process of another version is refused; the old process goes on', async (t) => {
  const path = controlSocketPath(t);
  const old = await startServer(t, ['--control-socket', path]);
  const app = await AppConnection.open(old.appPort, t);
  const queuedId = await app.sendTo('ver', 'before');
  const peer = await ScriptedNew.open(t, path);
  peer.hello(999);
  const f = await peer.next();
  t.equal(f.type, FrameType.Refuse);
  t.match(String(frameJson(f).reason), /version 999 is not this process's version 1/);
  await expectLogged(t, old, /refused: state stream version 999/);
  await stillServes(t, old, 'ver', queuedId);
});

t.test('an old process of another version: the new process exits 1 and says so', async (t) => {
  const path = controlSocketPath(t);
  const fake = spawn(process.execPath, [FAKE_OLD, path, 'version', '1', '2'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => fake.kill('SIGKILL'));
  await once(fake.stdout!, 'data');
  const run = await runCli(t, cliFlags(path));
  t.equal(run.code, 1);
  t.match(run.stderr, /speaks state stream version 999, this one 1; it goes on serving/);
});

t.test('a second takeover while one runs is refused; when the first goes away the old process resumes', async (t) => {
  const path = controlSocketPath(t);
  const old = await startServer(t, ['--control-socket', path]);
  const app = await AppConnection.open(old.appPort, t);
  const queuedId = await app.sendTo('second', 'before');
  const first = await ScriptedNew.open(t, path);
  first.hello();
  t.equal((await first.next()).type, FrameType.Info);
  first.send(FrameType.Take, {});
  const state = await first.stateUntilEnd();
  t.equal(frameJson(state[0]!).clients, 1, 'BEGIN: one queued client');
  t.ok(await app.waitClosed(), 'the app connection was closed when TAKE came');
  t.ok(await appPortRefused(old.appPort), 'the app port is closed: no send is taken during the handover');

  const second = await runCli(t, cliFlags(path));
  t.equal(second.code, 1, 'a second new process exits 1');
  t.match(second.stderr, /the old process refused: a takeover by pid \d+ is already running/);
  await expectLogged(t, old, /refused a second takeover request/);

  first.socket.destroy();
  await waitFor('the old process to resume', () => /did not complete: resumed/.test(old.stderr()));
  await stillServes(t, old, 'second', queuedId);
});

t.test('a new process that gives up after the state (ABORT): the old process resumes', async (t) => {
  const path = controlSocketPath(t);
  const old = await startServer(t, ['--control-socket', path]);
  const app = await AppConnection.open(old.appPort, t);
  const queuedId = await app.sendTo('abort', 'before');
  const peer = await ScriptedNew.open(t, path);
  peer.hello();
  await peer.next();
  peer.send(FrameType.Take, {});
  await peer.stateUntilEnd();
  peer.send(FrameType.Abort, { reason: 'the test gives up' });
  await waitFor('the old process to resume', () => /did not complete: resumed/.test(old.stderr()));
  await expectLogged(t, old, /the new process gave up: the test gives up/);
  await stillServes(t, old, 'abort', queuedId);
});

t.test('a new process that bound the app port but never said IMPORTED: the old process hands over', async (t) => {
  const path = controlSocketPath(t);
  const old = await startServer(t, ['--control-socket', path]);
  const app = await AppConnection.open(old.appPort, t);
  await app.sendTo('fence', 'before');
  const peer = await ScriptedNew.open(t, path);
  peer.hello();
  await peer.next();
  peer.send(FrameType.Take, {});
  await peer.stateUntilEnd();
  // This test process is the "new process" (its pid was in HELLO): it takes the app port, then hangs up.
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(old.appPort, '127.0.0.1', resolve));
  t.teardown(() => holder.close());
  old.expectExit();
  peer.socket.destroy();
  t.same(await withTimeout(old.exited, 15_000, 'the old process to hand over and exit'), { code: 0, signal: null });
  await expectLogged(t, old, /the app port is taken and pid \d+ lives: it has the whole state and serves; handing over/);
});

t.test('the old process dies mid-handover: the new process serves what came', async (t) => {
  const path = controlSocketPath(t);
  const ports = await freePorts(2);
  const fake = spawn(process.execPath, [FAKE_OLD, path, 'die', String(ports[0]), String(ports[1])], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => fake.kill('SIGKILL'));
  await once(fake.stdout!, 'data');
  const next = await startServer(t, ['--takeover', '--control-socket', path]);
  t.equal(next.httpPort, ports[0], 'the old process\'s HTTP port');
  t.equal(next.appPort, ports[1], 'the old process\'s app port');
  await expectLogged(t, next, /died before it sent all of its state: 2 queues \(2 messages\) of 2 \(3\) came; serving with those/);
  t.same((await pollOnce(t, next.httpPort, 'a')).messages, [{ m: 1 }, 'two'], 'what came is delivered');
  const app = await AppConnection.open(next.appPort, t);
  const id = await app.sendTo('b', 'new');
  t.ok(id > (await pollOnce(t, next.httpPort, 'a')).cursor, 'ids go on above the old ones');
});

t.test('the old process closes mid-handover but lives: the new process exits 1', async (t) => {
  const path = controlSocketPath(t);
  const ports = await freePorts(2);
  const fake = spawn(process.execPath, [FAKE_OLD, path, 'close', String(ports[0]), String(ports[1])], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => fake.kill('SIGKILL'));
  await once(fake.stdout!, 'data');
  const run = await runCli(t, cliFlags(path), 30_000);
  t.equal(run.code, 1);
  t.match(run.stderr, /the old process \(pid \d+\) lives and serves again/);
});

/** Ports free now (the kernel's choice), for a fake old process to name. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<Server>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}
