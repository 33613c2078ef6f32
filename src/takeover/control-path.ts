// Where the control socket lives, and opening it safely.
//
// Default: $XDG_RUNTIME_DIR/megacomet-PORT-APPPORT.sock (a directory only its
// user may enter), else $TMPDIR/megacomet-UID/megacomet-PORT-APPPORT.sock in
// a directory this process makes with mode 0700 and checks is its own and
// closed to others. The socket itself is made 0600. Whoever can connect to
// it can take every queued message, so the new process too checks, before it
// connects, that the socket belongs to its own user.

import { lstatSync, mkdirSync, chmodSync, unlinkSync, type Stats } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';

/** sun_path holds 108 bytes, the terminating NUL included. */
export const MAX_SOCKET_PATH_BYTES = 107;

export class ControlPathError extends Error {
  override name = 'ControlPathError';
}

function uid(): number {
  return typeof process.getuid === 'function' ? process.getuid() : 0;
}

/** The default control socket for a server on these ports. */
export function defaultControlPath(httpPort: number, appPort: number, env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  const dir = runtime !== undefined && isAbsolute(runtime) ? runtime : join(tmpdir(), `megacomet-${uid()}`);
  return join(dir, `megacomet-${httpPort}-${appPort}.sock`);
}

/** Throws ControlPathError when `path` cannot name a Unix socket. */
export function checkPathLength(path: string): void {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw new ControlPathError(`the control socket path ${path} is longer than ${MAX_SOCKET_PATH_BYTES} bytes; choose a shorter --control-socket`);
  }
}

/**
 * Makes sure the directory of `path` exists; the default directory under
 * $TMPDIR is made (0700) if missing and must be owned by this user and
 * closed to group and others, since anyone who could replace the socket
 * there could pose as the old process.
 */
export function prepareDirectory(path: string, httpPort: number, appPort: number): void {
  const dir = dirname(path);
  const fallback = dirname(defaultControlPath(httpPort, appPort, {}));
  if (dir === fallback) {
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new ControlPathError(`cannot make ${dir}: ${(err as Error).message}`);
    }
    const st = lstatSync(dir);
    if (!st.isDirectory() || st.uid !== uid() || (st.mode & 0o077) !== 0) {
      throw new ControlPathError(`${dir} must be a directory owned by this user (uid ${uid()}) with mode 0700; fix or remove it, or pass --control-socket`);
    }
  }
}

/**
 * Checks that `path` is a socket owned by this user before connecting to it.
 * Throws ControlPathError (with the errno code in `code` when it is missing).
 */
export function checkSocketOwner(path: string): void {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch (err) {
    const e = new ControlPathError(`no control socket at ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    (e as { code?: string }).code = (err as NodeJS.ErrnoException).code;
    throw e;
  }
  if (!st.isSocket()) throw new ControlPathError(`${path} is not a socket`);
  if (st.uid !== uid()) throw new ControlPathError(`${path} belongs to uid ${st.uid}, not to this user (uid ${uid()}); refusing to take state from it`);
}

/** Connects to the Unix socket `path`; rejects with the connect error. */
export function connectUnix(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

/**
 * Listens on the Unix socket `path`, mode 0600. A socket file left by a
 * process that died (nobody answers on it) is removed first; one that a live
 * process answers on is left alone and the promise rejects (EADDRINUSE).
 * Closing the server removes the file (libuv unlinks it).
 */
export async function listenUnix(path: string, onConnection: (socket: Socket) => void): Promise<Server> {
  checkPathLength(path);
  for (let attempt = 0; ; attempt++) {
    try {
      return await listenOnce(path, onConnection);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt > 0) throw err;
      // Someone's file: is anyone there?
      checkSocketOwner(path);
      const live = await connectUnix(path).then(
        (socket) => {
          socket.destroy();
          return true;
        },
        () => false,
      );
      if (live) throw err;
      unlinkSync(path);
    }
  }
}

function listenOnce(path: string, onConnection: (socket: Socket) => void): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer(onConnection);
    server.once('error', reject);
    // The socket file gets its mode from the umask at bind(): make it 0600 from the start, not after a window.
    const umask = process.umask(0o177);
    try {
      server.listen(path, () => {
        server.off('error', reject);
        try {
          chmodSync(path, 0o600);
        } catch {
          // It was made 0600 by the umask already.
        }
        resolve(server);
      });
    } finally {
      process.umask(umask);
    }
  });
}
