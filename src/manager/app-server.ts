// The app port (PROTOCOL.md section 2): newline-delimited JSON over TCP, one
// AppConnection per socket, all of them calling the one backend on this thread
// (the embedded manager, or with --redis the shared store).

import { createServer, type Socket } from 'node:net';
import { AppConnection, DEFAULT_AUTH_TIMEOUT_MS } from './app-connection.js';
import type { AppBackend } from './app-backend.js';
import type { ThreadCounters } from '../protocol/stats.js';

export interface AppServerOptions {
  host: string;
  /** 0 picks a free port (see AppServer.port). */
  port: number;
  /** --app-secret: when set, each connection must auth before anything else. */
  secret?: string;
  /** --max-line: bytes a request line may have, not counting its line end. */
  maxLine: number;
  /** --max-message: bytes the "data" value's text may have. */
  maxMessage: number;
  /** With a secret: ms a connection may take to authenticate (default 10 s). */
  authTimeoutMs?: number;
}

export interface AppServer {
  /** The bound port. */
  readonly port: number;
  /** Open app connections. */
  readonly connections: number;
  /**
   * A takeover (src/takeover/): closes the port at once (it can be bound by
   * another process as this returns) and has every connection answer the
   * lines it has read and close. No request is carried out afterwards.
   */
  stopTaking(): void;
  /** Stops accepting and closes every app connection. */
  close(): Promise<void>;
}

/** Listens for apps; rejects with the listen error (e.g. EADDRINUSE) if the port cannot be bound. */
export function startAppServer(
  options: AppServerOptions,
  backend: AppBackend,
  threadStats: () => readonly ThreadCounters[],
): Promise<AppServer> {
  const sockets = new Set<Socket>();
  const connections = new Set<AppConnection>();
  const context = {
    backend,
    threadStats,
    secret: options.secret,
    maxLine: options.maxLine,
    maxMessage: options.maxMessage,
    authTimeoutMs: options.authTimeoutMs ?? DEFAULT_AUTH_TIMEOUT_MS,
    appConnections: () => sockets.size,
  };
  const server = createServer((socket) => {
    const connection = new AppConnection(socket, context);
    sockets.add(socket);
    connections.add(connection);
    socket.once('close', () => {
      sockets.delete(socket);
      connections.delete(connection);
    });
  });
  let closed: Promise<void> | null = null;
  const stopListening = (): Promise<void> => (closed ??= new Promise<void>((done) => server.close(() => done())));

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      // Accept failures (e.g. out of file descriptors) must not crash the server; the listener keeps going.
      server.on('error', (err) => process.stderr.write(`app port: ${err.message}; still accepting\n`));
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : options.port;
      resolve({
        port,
        get connections() {
          return sockets.size;
        },
        stopTaking() {
          void stopListening();
          for (const connection of connections) connection.finish();
        },
        close() {
          const done = stopListening();
          for (const socket of sockets) socket.destroy();
          return done;
        },
      });
    });
  });
}
