// Entry point of a worker thread: one native engine (its own listening socket
// and epoll set), the request logic, and this worker's two rings to the manager.
import { parentPort, workerData } from 'node:worker_threads';
import { loadAddon, type NativeEngine } from '../native.js';
import { RingReader, RingWriter } from '../ring/ring.js';
import {
  MAX_POLL_RECORD_BYTES,
  RecordType,
  deliverBody,
  encodeClientRecord,
  readHandle,
  readType,
} from '../ring/records.js';
import { STATS_FIELDS, ThreadStatsWriter } from '../thread-stats.js';
import type { MainToWorker, WorkerInit, WorkerToMain } from '../thread-messages.js';
import { RequestHandler, type ManagerPort } from './request-handler.js';
import { log } from '../log.js';

const STATS_INTERVAL_MS = 100;
const DRAIN_CHECK_MS = 20;

function post(message: WorkerToMain): void {
  parentPort!.postMessage(message);
}

function main(init: WorkerInit): void {
  const { config } = init;
  const stats = new ThreadStatsWriter(init.stats, init.index);
  const toManager = new RingWriter(init.toManager);
  const scratch = Buffer.alloc(MAX_POLL_RECORD_BYTES);
  const managerPort: ManagerPort = {
    poll(handle, since, client) {
      toManager.write(scratch, encodeClientRecord(scratch, RecordType.Poll, handle, since, client));
    },
    gone(handle, client) {
      toManager.write(scratch, encodeClientRecord(scratch, RecordType.Gone, handle, 0, client));
    },
  };

  let handler: RequestHandler | undefined;
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
    },
    (count, bytes) => {
      handler!.onEvents(count, bytes);
      stats.set(STATS_FIELDS.heldPolls, handler!.held.size);
    },
  );
  handler = new RequestHandler(engine, config, managerPort);
  const h = handler;

  const fromManager = new RingReader(init.fromManager);
  const ring = fromManager.bytes;
  fromManager.start((offset) => {
    if (readType(ring, offset) === RecordType.Deliver) {
      h.deliver(readHandle(ring, offset), deliverBody(ring, offset));
      stats.set(STATS_FIELDS.heldPolls, h.held.size);
    }
  });

  const publishStats = (): void => {
    const s = engine.stats();
    stats.set(STATS_FIELDS.connections, s.connections);
    stats.set(STATS_FIELDS.heldPolls, h.held.size);
    stats.set(STATS_FIELDS.accepted, s.accepted);
    stats.set(STATS_FIELDS.refused, s.refused);
  };
  const statsTimer = setInterval(publishStats, STATS_INTERVAL_MS);

  let port: number;
  try {
    port = engine.listen();
  } catch (err) {
    clearInterval(statsTimer);
    fromManager.stop();
    toManager.close();
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
      clearInterval(statsTimer);
      publishStats();
      engine.close();
      fromManager.stop();
      toManager.close();
      post({ type: 'drained' });
      parentPort!.close();
    };
    finish();
  });
}

main(workerData as WorkerInit);
