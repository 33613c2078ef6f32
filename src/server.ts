// Process wiring: the manager on the main thread, N worker threads, two rings
// per worker, the app server. See docs/ARCHITECTURE.md for the picture.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Config } from './config.js';
import { loadAddon } from './engine/binding.js';
import { createRingBuffer } from './ring/ring.js';
import { createPromptBoard } from './ring/prompt-board.js';
import { closeDoorbell, createDoorbell } from './ring/doorbell.js';
import { hashKey } from './protocol/client-id-hash.js';
import { DEFAULT_MAX_DELIVERY_BYTES, Manager } from './manager/manager.js';
import { LocalBackend } from './manager/local-backend.js';
import type { AppBackend } from './manager/app-backend.js';
import type { WorkerRecordHandler } from './manager/worker-port.js';
import { RedisRouter } from './cluster/redis-router.js';
import type { ManagerState } from './manager/manager-state.js';
import { RingWorkerPort } from './manager/worker-port.js';
import { startAppServer, type AppServer } from './manager/app-server.js';
import { startMetricsServer, type MetricsServer } from './metrics/metrics-server.js';
import { createThreadStats, readThreadStats } from './threads/thread-stats.js';
import type { MainToWorker, WorkerInit, WorkerToMain } from './threads/thread-messages.js';
import { log } from './log.js';

/**
 * Ring size per direction per worker: room for thousands of deliveries between
 * two drains. Its largest record (half of it) bounds a delivery body: the
 * manager's maxDeliveryBytes (768 KiB) and --max-message (at most 512 KiB)
 * stay below that.
 */
const RING_BYTES = 1 << 21;

/**
 * How many workers take new connections (EngineOptions.spread; 0: all of them). More workers
 * than cores only adds context switches: each gets a smaller share, so each wake-up does less
 * (measured: --threads 8 on 2 cores delivered 0.57-0.74x of --threads 2 at max rate). Past the
 * core count the port's connections go to as many workers as there are cores, and the others
 * stay idle, which costs nothing (their engines never wake). Not with --port-per-thread, where
 * each worker has a port of its own.
 */
function acceptingWorkers(config: Config): number {
  const cores = availableParallelism();
  if (config.portPerThread || config.threads <= cores) return 0;
  log(`${config.threads} worker threads on ${cores} cores: new connections go to ${cores} of them, the others stay idle`);
  return cores;
}

/** File descriptors kept back from connections: epoll sets, the engines' reserve fds, the app server, logs. */
const RESERVED_FDS = 64;
/**
 * And per worker thread: its libuv loop (epoll set, async eventfd), the engine's epoll set,
 * reserve fd and listening socket, and its two rings' doorbells, with room to spare.
 */
const RESERVED_FDS_PER_THREAD = 10;
/** How long shutdown waits for answered polls to be written before closing sockets hard. */
const SHUTDOWN_GRACE_MS = 2000;

export interface RunningServer {
  readonly httpPort: number;
  readonly appPort: number;
  /** The metrics port, when --metrics-port is given. */
  readonly metricsPort: number | undefined;
  readonly fdLimit: number;
  readonly maxConnections: number;
  /** Stops accepting, answers held polls, closes everything. Resolves when done. */
  shutdown(): Promise<void>;
  /**
   * Takeover, old side (src/takeover/): closes the app port and every app
   * connection after answering the lines already read; no send is taken
   * until resumeSends(). Polls go on being served.
   */
  stopSends(): void;
  /** Binds the app port again (the same port) after a handover that did not happen; rejects with the listen error. */
  resumeSends(): Promise<void>;
  /** The manager's queues, ids and clock now (src/manager/manager-state.ts). */
  exportState(): ManagerState;
}

export interface StartHooks {
  /**
   * Takeover, new side (src/takeover/): called once the workers listen, before
   * the manager reads their rings (polls wait there meanwhile) and before the
   * app port is bound; fills the manager with the old process's state. If it
   * rejects, the start fails.
   */
  importState?(manager: Manager): Promise<void>;
}

interface WorkerHandle {
  readonly thread: Worker;
  readonly port: RingWorkerPort;
}

/** Resolves with the first message of `thread` matching `accept`, rejects if the thread dies first. */
function nextMessage<T extends WorkerToMain['type']>(
  thread: Worker,
  types: readonly T[],
): Promise<Extract<WorkerToMain, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: WorkerToMain): void => {
      if (!(types as readonly string[]).includes(message.type)) return;
      cleanup();
      resolve(message as Extract<WorkerToMain, { type: T }>);
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onExit = (code: number): void => {
      cleanup();
      reject(new Error(`worker thread exited with code ${code} before it was ready`));
    };
    const cleanup = (): void => {
      thread.off('message', onMessage);
      thread.off('error', onError);
      thread.off('exit', onExit);
    };
    thread.on('message', onMessage);
    thread.on('error', onError);
    thread.on('exit', onExit);
  });
}

export async function startServer(config: Config, hooks: StartHooks = {}): Promise<RunningServer> {
  const fdLimit = loadAddon().raiseFileLimit();
  const fdRoom = Math.max(1, fdLimit - RESERVED_FDS - RESERVED_FDS_PER_THREAD * config.threads);
  const maxConnections = config.maxConnections > 0 ? config.maxConnections : fdRoom;
  if (maxConnections > fdRoom) {
    log(
      `--max-connections ${maxConnections} is above what the open-file limit (${fdLimit}) allows (about ${fdRoom}); ` +
        'past that, connections get 503. Raise the hard limit (ulimit -Hn, LimitNOFILE=) to hold more.',
    );
  }
  const statsSab = createThreadStats(config.threads);
  const connections = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
  const spread = acceptingWorkers(config);
  // With --redis every POLL needs the router (it may read Redis): no board, so every record wakes it.
  const promptBoard = config.redis === undefined ? createPromptBoard() : null;
  // Closed only once every worker has exited and every port is closed: nobody rings or watches them then.
  const doorbellFds: number[] = [];
  const closeDoorbells = (): void => {
    for (const fd of doorbellFds.splice(0)) closeDoorbell(fd);
  };

  const spawn = async (index: number, port: number): Promise<{ handle: WorkerHandle; port: number }> => {
    const toManager = createRingBuffer(RING_BYTES);
    const fromManager = createRingBuffer(RING_BYTES);
    const doorbells = { toManager: createDoorbell(), fromManager: createDoorbell() };
    doorbellFds.push(doorbells.toManager, doorbells.fromManager);
    const init: WorkerInit = { index, config, port, maxConnections, connections, toManager, fromManager, stats: statsSab, promptBoard, hashKey: hashKey(), doorbells, spread };
    const thread = new Worker(new URL('./worker/thread.js', import.meta.url), { workerData: init });
    const first = await nextMessage(thread, ['listening', 'failed']);
    if (first.type === 'failed') {
      await thread.terminate();
      for (const fd of doorbellFds.splice(doorbellFds.indexOf(doorbells.toManager), 2)) closeDoorbell(fd);
      throw new Error(`worker ${index} cannot listen on ${config.host}:${port}: ${first.message}`);
    }
    return { handle: { thread, port: new RingWorkerPort(index, toManager, fromManager, doorbells) }, port: first.port };
  };

  // Worker 0 first: with --port 0 it picks the port the others then share.
  const workers: WorkerHandle[] = [];
  const first = await spawn(0, config.port);
  workers.push(first.handle);
  const basePort = first.port;
  const rest = await Promise.allSettled(
    Array.from({ length: config.threads - 1 }, (_, i) => spawn(i + 1, config.portPerThread ? (config.port === 0 ? 0 : basePort + i + 1) : basePort)),
  );
  for (const r of rest) if (r.status === 'fulfilled') workers.push(r.value.handle);
  const failed = rest.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(workers.map((w) => w.thread.terminate()));
    closeDoorbells();
    throw failed.reason as Error;
  }

  const ports = workers.map((w) => w.port);
  // The embedded manager, or with --redis the router over the shared store: each takes the
  // workers' records and the apps' requests, starts and stops the same way.
  const manager =
    config.redis === undefined ? new Manager({ ttlMs: config.ttlMs, maxQueue: config.maxQueue, maxMemory: config.maxMemory, promptBoard: promptBoard! }, ports) : null;
  const router =
    config.redis === undefined
      ? null
      : new RedisRouter(
          { url: config.redis, ttlMs: config.ttlMs, maxQueue: config.maxQueue, maxDeliveryBytes: DEFAULT_MAX_DELIVERY_BYTES, waitReplicas: config.redisWait },
          ports,
        );
  const routing: WorkerRecordHandler & { start(): void; stop(): void } = (manager ?? router)!;
  const backend: AppBackend = manager !== null ? new LocalBackend(manager) : router!;
  const stats = manager ?? router!;

  let stopping = false;
  for (const [index, w] of workers.entries()) {
    w.thread.on('error', (err) => {
      log(`worker ${index} failed: ${err.stack ?? err.message}; stopping the server (its connections are lost)`);
      process.exit(1);
    });
    w.thread.on('exit', (code) => {
      if (!stopping) {
        log(`worker ${index} exited unexpectedly with code ${code}; stopping the server`);
        process.exit(1);
      }
    });
  }
  const abandon = async (): Promise<void> => {
    stopping = true;
    routing.stop();
    for (const w of workers) w.port.close();
    await Promise.all(workers.map((w) => w.thread.terminate()));
    closeDoorbells();
    router?.close();
  };

  if (router !== null) {
    try {
      await router.connect();
    } catch (err) {
      await abandon();
      throw err;
    }
    log(`queues are in Redis at ${router.where}, shared with every node given the same --redis`);
  }
  if (hooks.importState !== undefined) {
    try {
      // With --redis the old process's queues are in Redis already: its (empty) state lands in a scratch manager.
      await hooks.importState(manager ?? new Manager({ ttlMs: config.ttlMs, maxQueue: config.maxQueue }, []));
    } catch (err) {
      await abandon();
      throw err;
    }
  }
  routing.start();
  for (const w of workers) w.port.start(routing);
  manager?.takeInFrom(workers.map((w) => w.port));

  const appOptions = { host: config.appHost, port: config.appPort, secret: config.appSecret, maxLine: config.maxLine, maxMessage: config.maxMessage };
  const threadStats = (): ReturnType<typeof readThreadStats> => readThreadStats(statsSab);
  let app: AppServer;
  try {
    app = await startAppServer(appOptions, backend, threadStats);
  } catch (err) {
    await abandon();
    throw new Error(`cannot start the app server on ${config.appHost}:${config.appPort}: ${(err as Error).message}`, { cause: err });
  }
  const appPort = app.port;

  let metrics: MetricsServer | undefined;
  if (config.metricsPort !== undefined) {
    const metricsOptions = { host: config.metricsHost, port: config.metricsPort };
    const sources = {
      manager: stats,
      threadRows: () => readThreadStats(statsSab),
      appConnections: () => app.connections,
      rings: () => workers.map((w) => w.port.occupancy()),
    };
    if (config.takeover) {
      // Past the takeover's commit point the queues live only here: a metrics port the old
      // process has not released yet must never make this process give up. Retry while the old
      // one shuts down, then serve without metrics rather than lose anything.
      metrics = await startMetricsWithRetry(metricsOptions, sources);
    } else {
      try {
        metrics = await startMetricsServer(metricsOptions, sources);
      } catch (err) {
        await app.close();
        await abandon();
        throw new Error(`cannot start the metrics server on ${config.metricsHost}:${config.metricsPort}: ${(err as Error).message}`);
      }
    }
  }

  return {
    httpPort: basePort,
    appPort,
    metricsPort: metrics?.port,
    fdLimit,
    maxConnections,
    async shutdown(): Promise<void> {
      if (stopping) return;
      stopping = true;
      await Promise.all([app.close(), metrics?.close()]);
      const shutdown: MainToWorker = { type: 'shutdown', graceMs: SHUTDOWN_GRACE_MS };
      const drained = workers.map((w) =>
        nextMessage(w.thread, ['drained']).catch(() => undefined),
      );
      for (const w of workers) w.thread.postMessage(shutdown);
      // Each worker answers every held poll before its own grace starts, a write per poll: with a
      // million held that takes seconds (minutes in a slow VM). Terminating it on a fixed clock
      // cut those answers short (18,666 of 202,000 answered in the VM), so wait for it, with a
      // safety net that grows with the polls it holds.
      const held = readThreadStats(statsSab).reduce((n, row) => n + row.held_polls, 0);
      const safetyNetMs = SHUTDOWN_GRACE_MS + 30_000 + held;
      await Promise.race([Promise.all(drained), new Promise((r) => setTimeout(r, safetyNetMs).unref())]);
      routing.stop();
      for (const w of workers) w.port.close();
      await Promise.all(workers.map((w) => w.thread.terminate()));
      closeDoorbells();
      router?.close();
    },
    stopSends(): void {
      app.stopTaking();
    },
    async resumeSends(): Promise<void> {
      if (stopping) throw new Error('the server is stopping');
      const next = await startAppServer({ ...appOptions, port: appPort }, backend, threadStats);
      const previous = app;
      app = next;
      await previous.close();
    },
    exportState(): ManagerState {
      // With --redis nothing is queued here: the new process finds every queue in Redis.
      return manager?.exportState() ?? { nowMs: Date.now(), lastIssued: 0, queues: [], groups: [] };
    },
  };
}

/** How long a process that took over waits for the old one to release the metrics port. */
const METRICS_RETRY_MS = 15_000;

async function startMetricsWithRetry(
  options: Parameters<typeof startMetricsServer>[0],
  sources: Parameters<typeof startMetricsServer>[1],
): Promise<MetricsServer | undefined> {
  const deadline = Date.now() + METRICS_RETRY_MS;
  for (;;) {
    try {
      return await startMetricsServer(options, sources);
    } catch (err) {
      if (Date.now() > deadline) {
        log(`cannot start the metrics server on ${options.host}:${options.port} (${(err as Error).message}); serving without metrics`);
        return undefined;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
