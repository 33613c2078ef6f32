// The bench's baseline: the same protocol as MegaComet (PROTOCOL.md) written the plain way, with
// node:http and node:net in one process and one thread. It is what a capable developer writes in
// an afternoon, and every bench figure is also reported as a ratio to it.
//
//   node dist/bench/baseline/server.js [--host H] [--port P] [--app-host H] [--app-port Q]
//        [--poll-timeout S] [--ttl S] [--max-queue N]
//
// Prints "baseline ready: http://HOST:PORT app=HOST:PORT threads=1" on stdout when listening.
import type { AddressInfo } from 'node:net';
import { createAppSide } from './app-side.js';
import { ClientStore } from './client-store.js';
import { createHttpSide, writePoll } from './http-side.js';
import { OptionError, parseBaselineOptions, type BaselineOptions } from './options.js';

function listen(server: import('node:net').Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, backlog: 511 }, () => resolve((server.address() as AddressInfo).port));
  });
}

async function main(options: BaselineOptions): Promise<void> {
  const store = new ClientStore(options.pollTimeout * 1000, options.ttl * 1000, options.maxQueue, writePoll);
  const http = createHttpSide(store, options.keepAliveTimeout);
  let connections = 0;
  http.on('connection', (socket) => {
    connections++;
    socket.on('close', () => connections--);
  });
  const app = createAppSide(store, options.maxLine, options.maxMessage, () => connections);
  const port = await listen(http, options.port, options.host);
  const appPort = await listen(app, options.appPort, options.appHost);
  process.stdout.write(`baseline ready: http://${options.host}:${port} app=${options.appHost}:${appPort} threads=1\n`);

  const stop = (): void => {
    http.close();
    app.close();
    store.releaseAll();
    http.closeIdleConnections();
    setTimeout(() => process.exit(0), 200).unref();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

let options: BaselineOptions;
try {
  options = parseBaselineOptions(process.argv.slice(2));
} catch (e) {
  if (!(e instanceof OptionError)) throw e;
  process.stderr.write(`baseline: ${e.message}\n`);
  process.exit(2);
}
main(options).catch((e: unknown) => {
  process.stderr.write(`baseline: could not start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
