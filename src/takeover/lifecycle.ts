// How a process starts serving and how it hands over (main.ts calls this):
//   fresh        start the server, then open the control socket
//   --takeover   connect to the old process's control socket, start the
//                workers on its ports, import its state, bind the app port,
//                tell it (it drains and exits), then open the control socket
// and, either way, SIGUSR2 starts a successor (./successor.ts).

import type { Config } from '../config.js';
import { log } from '../log.js';
import type { Manager } from '../manager/manager.js';
import type { RunningServer, StartHooks } from '../server.js';
import { ControlPathError, defaultControlPath, prepareDirectory } from './control-path.js';
import { TakeoverClient, TakeoverError, type ReceivedState } from './new-side.js';
import { startControlServer, type ControlServer } from './old-side.js';
import { Successors } from './successor.js';

export type StartServer = (config: Config, hooks?: StartHooks) => Promise<RunningServer>;

export interface Serving {
  readonly server: RunningServer;
  /** The control socket's path (whether or not it could be opened). */
  readonly controlPath: string;
  /** Starts a successor with --takeover (SIGUSR2). */
  startSuccessor(): void;
  /** Closes the control socket (its file is removed). */
  closeControl(): Promise<void>;
}

export interface ServingEvents {
  /** This process handed over to `pid`: stop (answer held polls) and exit 0. */
  handedOver(pid: number): void;
}

export { TakeoverError };

export async function startServing(config: Config, start: StartServer, events: ServingEvents): Promise<Serving> {
  let server: RunningServer;
  let controlPath: string;
  if (!config.takeover) {
    server = await start(config);
    controlPath = config.controlSocket ?? defaultControlPath(server.httpPort, server.appPort);
  } else {
    ({ server, controlPath } = await takeOver(config, start));
  }

  let handedOver = false;
  let control: ControlServer | null = null;
  try {
    if (config.controlSocket === undefined) prepareDirectory(controlPath, server.httpPort, server.appPort);
    control = await startControlServer(controlPath, {
      httpPort: server.httpPort,
      appPort: server.appPort,
      stopSends: () => server.stopSends(),
      resumeSends: () => server.resumeSends(),
      exportState: () => server.exportState(),
      handedOver: (pid) => {
        handedOver = true;
        events.handedOver(pid);
      },
    });
  } catch (err) {
    const why = err instanceof ControlPathError ? err.message : `${(err as Error).message}`;
    log(`no control socket at ${controlPath} (${why}): this process cannot be taken over (SIGUSR2, --takeover); it serves as usual`);
  }
  const successors = new Successors(controlPath, () => handedOver);
  return {
    server,
    controlPath,
    startSuccessor() {
      if (control === null) {
        log('SIGUSR2: this process has no control socket, so no successor can take over from it; ignored');
        return;
      }
      successors.start();
    },
    async closeControl() {
      await control?.close();
    },
  };
}

/** --takeover: see the file comment. Throws TakeoverError (or the start's error) when it cannot; the old process then serves on. */
async function takeOver(config: Config, start: StartServer): Promise<{ server: RunningServer; controlPath: string }> {
  let controlPath = config.controlSocket;
  if (controlPath === undefined) {
    if (config.port === 0 || config.appPort === 0) {
      throw new TakeoverError('--takeover with --port 0 or --app-port 0 needs --control-socket: the default path is made from the ports');
    }
    controlPath = defaultControlPath(config.port, config.appPort);
    // A socket in a directory others could write to could be swapped between the owner check and the connect.
    try {
      prepareDirectory(controlPath, config.port, config.appPort);
    } catch (err) {
      throw new TakeoverError((err as Error).message);
    }
  }
  const begun = Date.now();
  const client = await TakeoverClient.connect(controlPath);
  const { old } = client;
  const port = config.port === 0 ? old.httpPort : config.port;
  const appPort = config.appPort === 0 ? old.appPort : config.appPort;
  if (port !== old.httpPort || appPort !== old.appPort) {
    client.close();
    throw new TakeoverError(
      `the old process (pid ${old.pid}) serves on ports ${old.httpPort} and ${old.appPort}, this one was given ${port} and ${appPort}: ` +
        'a takeover keeps the ports (give the same --port and --app-port, or 0 for "the old process\'s"); nothing changed',
    );
  }
  log(`taking over from pid ${old.pid} on ports ${port} (HTTP) and ${appPort} (apps), control socket ${controlPath}`);
  let received: ReceivedState | undefined;
  const importState = async (manager: Manager): Promise<void> => {
    received = await client.receiveState({
      importClock(sourceNowMs, lastIssued) {
        const ahead = manager.importClock(sourceNowMs, lastIssued);
        if (Math.abs(ahead) >= 1000) {
          log(`the old process's clock is ${ahead > 0 ? 'ahead of' : 'behind'} this one's by ${Math.abs(Math.round(ahead))} ms (a wall clock step between their starts)${ahead > 0 ? '; this process follows it' : ''}`);
        }
      },
      importQueue: (client, ids, data, expiresInMs) => manager.importQueue(client, ids, data, expiresInMs),
      importGroup: (group, members) => manager.importGroup(group, members),
    });
    if (manager.memoryUsed() > manager.memoryBudget) {
      log(`the imported queues hold ${manager.memoryUsed()} bytes, above --max-memory ${manager.memoryBudget}: sends get memory_full until clients poll`);
    }
  };
  let server: RunningServer;
  try {
    server = await start({ ...config, port, appPort }, { importState });
  } catch (err) {
    client.abort(`the new process cannot start: ${(err as Error).message}`);
    if (err instanceof TakeoverError) throw err;
    throw new TakeoverError(`${(err as Error).message}; the old process (pid ${old.pid}) serves on`);
  }
  const paused = Date.now() - client.takenAt;
  await client.commit();
  const got = received!;
  log(
    `took over from pid ${old.pid} in ${Date.now() - begun} ms: ${got.clients} queues, ${got.messages} messages, ${got.dataBytes} data bytes, ${got.memberships} memberships` +
      (got.complete ? '' : ' (incomplete: the old process died during the handover)') +
      `; the app port was closed for about ${paused} ms`,
  );
  return { server, controlPath };
}
