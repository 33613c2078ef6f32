#!/usr/bin/env node
// Command-line entry: parse flags, start the server (or take over from the
// running one: --takeover), print the ready line, stop cleanly on
// SIGINT/SIGTERM, start a successor on SIGUSR2 (src/takeover/).
import { ConfigError, HelpRequested, parseArgs, usage, type Config } from './config.js';
import { startServer } from './server.js';
import { startServing } from './takeover/lifecycle.js';
import { log } from './log.js';

const EXIT_USAGE = 2;

function configFromArgv(): Config {
  try {
    return parseArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stdout.write(usage() + '\n');
      process.exit(0);
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`megacomet: ${err.message}\n`);
      process.exit(EXIT_USAGE);
    }
    throw err;
  }
}

async function main(): Promise<void> {
  const config = configFromArgv();
  // SIGUSR2's default action ends the process: until there is something to hand over, it is ignored.
  const early = (): void => log('SIGUSR2 before the server is ready: ignored');
  process.on('SIGUSR2', early);
  let stop: (why: string) => void = () => undefined;
  const serving = await startServing(config, startServer, { handedOver: (pid) => stop(`handed over to pid ${pid}`) });
  const { server } = serving;
  const shown = config.host.includes(':') ? `[${config.host}]` : config.host;
  const appShown = config.appHost.includes(':') ? `[${config.appHost}]` : config.appHost;
  // Scripts parse this line: ` metrics=HOST:PORT` is added only with --metrics-port, the rest never changes.
  const metricsShown = config.metricsHost.includes(':') ? `[${config.metricsHost}]` : config.metricsHost;
  const metrics = server.metricsPort === undefined ? '' : ` metrics=${metricsShown}:${server.metricsPort}`;
  process.stdout.write(
    `megacomet ready: http://${shown}:${server.httpPort} app=${appShown}:${server.appPort} ` +
      `threads=${config.threads} max-connections=${server.maxConnections} fd-limit=${server.fdLimit}${metrics}\n`,
  );
  log(
    `serving long-polls on ${shown}:${server.httpPort}${config.portPerThread ? `..${server.httpPort + config.threads - 1}` : ''} ` +
      `with ${config.threads} threads, apps on ${appShown}:${server.appPort}; ` +
      `holds up to ${server.maxConnections} connections (open-file limit ${server.fdLimit})`,
  );

  let stopping = false;
  stop = (signal: string): void => {
    if (stopping) {
      log(`${signal} again: exiting at once`);
      process.exit(1);
    }
    stopping = true;
    log(`${signal}: no longer accepting; answering held polls and stopping`);
    Promise.all([serving.closeControl(), server.shutdown()]).then(
      () => {
        log('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log(`shutdown failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.off('SIGUSR2', early);
  process.on('SIGUSR2', () => {
    if (stopping) log('SIGUSR2 while stopping: ignored');
    else serving.startSuccessor();
  });
}

main().catch((err: unknown) => {
  log(`cannot start: ${(err as Error).message}`);
  process.exit(1);
});
