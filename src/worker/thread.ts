// Entry point of a worker thread: wires one native engine (its own listening
// socket and epoll set), the request logic, and this worker's port to the
// manager. No protocol logic here.
import { parentPort, workerData } from 'node:worker_threads';
import { STATS_FIELD_COUNT, StatsField, loadAddon, type NativeEngine } from '../engine/binding.js';
import { ThreadStatsWriter } from '../threads/thread-stats.js';
import { LoopLag } from '../threads/loop-lag.js';
import type { MainToWorker, WorkerInit, WorkerToMain } from '../threads/thread-messages.js';
import { RingManagerPort } from './manager-port.js';
import { RequestHandler } from './request-handler.js';
import { log } from '../log.js';
import { adoptHashKey } from '../protocol/client-id-hash.js';

const DRAIN_CHECK_MS = 20;
const LAG_PUBLISH_MS = 1000;

function post(message: WorkerToMain): void {
  parentPort!.postMessage(message);
}

function main(init: WorkerInit): void {
  const { config } = init;
  adoptHashKey(init.hashKey);
  const manager = new RingManagerPort(init.toManager, init.fromManager, init.promptBoard, init.doorbells);
  const statsRow = new ThreadStatsWriter(init.stats, init.index);
  // Measured only for the metrics port: it costs a timer every 10 ms.
  const lag = config.metricsPort === undefined ? null : new LoopLag();
  lag?.start();

  let handler: RequestHandler | undefined;
  // One snapshot of the engine per batch of work (events or deliveries), at the end of it.
  // What changes without any event (accepts, closes, 503s) arrives as an empty batch
  // from the engine, so an idle worker never wakes on a timer for its stats.
  let publishScheduled = false;
  const counts = new Float64Array(STATS_FIELD_COUNT);
  const snapshot = { connections: 0, held: 0, accepted: 0, refused: 0 };
  const publishStats = (): void => {
    publishScheduled = false;
    engine.statsInto(counts);
    snapshot.connections = counts[StatsField.connections]!;
    snapshot.held = counts[StatsField.held]!;
    snapshot.accepted = counts[StatsField.accepted]!;
    snapshot.refused = counts[StatsField.refused]!;
    statsRow.publish(snapshot, lag === null ? 0 : lag.maxMs());
  };
  const publishSoon = (): void => {
    if (publishScheduled) return;
    publishScheduled = true;
    queueMicrotask(publishStats);
  };
  const engine: NativeEngine = new (loadAddon().Engine)(
    {
      host: config.host,
      port: init.port,
      backlog: 65535,
      maxConnections: init.maxConnections,
      sharedConnections: new Int32Array(init.connections),
      headTimeoutMs: config.headTimeoutMs,
      keepAliveTimeoutMs: config.keepAliveTimeoutMs,
      corsOrigin: config.corsOrigin,
      heartbeatMs: config.heartbeatMs,
      maxStreamBuffer: config.maxStreamBuffer,
      spread: init.spread,
    },
    (count) => {
      handler!.onEvents(count);
      publishSoon();
    },
  );
  const h = new RequestHandler(engine, config, manager);
  handler = h;

  // The lag moves without events: with metrics on, publish it each second too (the lag
  // timer already wakes this thread every 10 ms then).
  const lagTimer = lag === null ? undefined : setInterval(publishStats, LAG_PUBLISH_MS);
  lagTimer?.unref();

  manager.start({
    deliver(handle, body) {
      h.deliver(handle, body);
      publishSoon();
    },
    release(handle) {
      h.release(handle);
      publishSoon();
    },
  });

  let port: number;
  try {
    port = engine.listen();
  } catch (err) {
    clearInterval(lagTimer);
    lag?.stop();
    manager.close();
    engine.close();
    post({ type: 'failed', message: (err as Error).message });
    return;
  }
  post({ type: 'listening', port });

  parentPort!.on('message', (message: MainToWorker) => {
    if (message.type !== 'shutdown') return;
    engine.drain();
    h.releaseAll();
    const deadline = Date.now() + message.graceMs;
    const finish = (): void => {
      const left = engine.stats().connections;
      if (left > 0 && Date.now() < deadline) {
        setTimeout(finish, DRAIN_CHECK_MS);
        return;
      }
      if (left > 0) log(`closing ${left} connections that did not finish within ${message.graceMs} ms`);
      clearInterval(lagTimer);
      lag?.stop();
      publishStats();
      engine.close();
      manager.close();
      post({ type: 'drained' });
      parentPort!.close();
    };
    finish();
  });
}

main(workerData as WorkerInit);
