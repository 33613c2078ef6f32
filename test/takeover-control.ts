// The takeover's control socket and successor (src/takeover/control-path.ts,
// src/takeover/successor.ts): where the socket lives, that it is private,
// that a dead process's socket file is replaced and a live one's is not, and
// the flags SIGUSR2 gives the successor.
import t, { type Test } from 'tap';
import { lstatSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { checkSocketOwner, connectUnix, defaultControlPath, listenUnix, MAX_SOCKET_PATH_BYTES } from '../src/takeover/control-path.js';
import { successorArgs } from '../src/takeover/successor.js';

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'mc-ctl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('SIGUSR2: the successor gets the same flags, --takeover and the control socket once', async (t) => {
  t.same(successorArgs(['--port', '0', '--threads', '2'], '/run/x.sock'), ['--port', '0', '--threads', '2', '--takeover', '--control-socket', '/run/x.sock']);
  t.same(
    successorArgs(['--takeover', '--control-socket', '/a.sock', '--ttl', '5', '--control-socket=/b.sock'], '/run/x.sock'),
    ['--ttl', '5', '--takeover', '--control-socket', '/run/x.sock'],
  );
});

t.test('the default control socket is named after both ports, in a private directory', async (t) => {
  t.equal(defaultControlPath(8080, 9090, { XDG_RUNTIME_DIR: '/run/user/1000' }), '/run/user/1000/megacomet-8080-9090.sock');
  const fallback = defaultControlPath(8080, 9090, {});
  t.match(fallback, /\/megacomet-\d+\/megacomet-8080-9090\.sock$/);
  t.equal(defaultControlPath(8080, 9090, { XDG_RUNTIME_DIR: 'relative/dir' }), fallback, 'a relative XDG_RUNTIME_DIR is not used');
});

t.test('the socket is made 0600; a second listener on a live socket is refused', async (t) => {
  const path = join(tempDir(t), 'c.sock');
  const server = await listenUnix(path, (s) => s.end());
  t.teardown(() => server.close());
  const st = lstatSync(path);
  t.ok(st.isSocket());
  t.equal(st.mode & 0o777, 0o600, 'mode 0600');
  t.doesNotThrow(() => checkSocketOwner(path), 'owned by this user');
  await t.rejects(listenUnix(path, () => undefined), { code: 'EADDRINUSE' }, 'a live socket is left alone');
  const socket = await connectUnix(path);
  socket.destroy();
  t.ok(lstatSync(path).isSocket(), 'and still there');
});

t.test('a socket file left by a process that died is replaced', async (t) => {
  const path = join(tempDir(t), 'stale.sock');
  // A child listens and is killed: its socket file stays, nobody answers on it.
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => child.kill('SIGKILL'));
  await once(child.stdout!, 'data');
  child.kill('SIGKILL');
  await once(child, 'exit');
  t.ok(lstatSync(path).isSocket(), 'the dead process left its socket file');
  await t.rejects(connectUnix(path), { code: 'ECONNREFUSED' });
  const server = await listenUnix(path, (s) => s.end('hi'));
  t.teardown(() => server.close());
  const socket = await connectUnix(path);
  const [data] = (await once(socket, 'data')) as [Buffer];
  t.equal(data.toString(), 'hi', 'the new listener answers');
  socket.destroy();
});

t.test('paths a Unix socket cannot have are refused with the reason', async (t) => {
  await t.rejects(listenUnix('/tmp/' + 'x'.repeat(MAX_SOCKET_PATH_BYTES), () => undefined), /longer than 107 bytes/);
  t.throws(() => checkSocketOwner(join(tempDir(t), 'missing.sock')), /no control socket/);
});
