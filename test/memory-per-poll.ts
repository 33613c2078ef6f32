// The memory budget of an idle held poll, guarded from exact counts: N polls
// go the whole real way but for the engine and the threads (a /poll request
// into the worker's RequestHandler, its HeldPolls, a POLL record through a
// ring, the manager's port, the Manager), then each part's typed arrays are
// summed (byteLength of every page and of the hash index) and divided by N.
// No RSS, no heap sampling: the figure is the same on every run and machine,
// so a change that makes a held poll bigger fails here.
//
// Budget per held poll, 16-character client ids (docs/ARCHITECTURE.md,
// "Decisions and measurements"): the engine's connection record 40 bytes
// (native, measured by test/fixtures/engine-idle-memory.mjs), the worker 16,
// the manager 50, within 128 for the whole process.
//   MEGACOMET_MEMORY_CLIENTS=1000000 npx tap test/memory-per-poll.ts   (a bigger run)
import t from 'tap';
import type { NativeEngine } from '../src/engine/binding.js';
import { makeHandle, Method } from '../src/engine/events.js';
import { parseArgs } from '../src/config.js';
import { Manager } from '../src/manager/manager.js';
import { RingWorkerPort } from '../src/manager/worker-port.js';
import { createRingBuffer } from '../src/ring/ring.js';
import { RingManagerPort } from '../src/worker/manager-port.js';
import { RequestHandler } from '../src/worker/request-handler.js';

const MANAGER_BUDGET = 50;
const WORKER_BUDGET = 16;

const clients = Number(process.env.MEGACOMET_MEMORY_CLIENTS ?? 100_000);
const WORKERS = 2;
/** Polls written before waiting for the manager to read them: well inside a ring. */
const CHUNK = 10_000;

const engine = {
  events: new ArrayBuffer(0),
  respond: (): boolean => true,
  hold: (): boolean => true,
} as unknown as NativeEngine;

t.test(`an idle held poll within budget: manager <= ${MANAGER_BUDGET} bytes, worker <= ${WORKER_BUDGET} (${clients} polls)`, async (t) => {
  const config = parseArgs([]);
  const workerSides: RingManagerPort[] = [];
  const managerSides: RingWorkerPort[] = [];
  for (let w = 0; w < WORKERS; w++) {
    const toManager = createRingBuffer(1 << 21);
    const fromManager = createRingBuffer(1 << 21);
    workerSides.push(new RingManagerPort(toManager, fromManager));
    managerSides.push(new RingWorkerPort(w, toManager, fromManager));
  }
  const manager = new Manager({ ttlMs: 60_000, maxQueue: 1000 }, managerSides);
  for (const port of managerSides) port.start(manager);
  const handlers = workerSides.map((port) => new RequestHandler(engine, config, port));

  for (let i = 0; i < clients; ) {
    const end = Math.min(clients, i + CHUNK);
    for (; i < end; i++) {
      // Engine slots are dense per worker; ids like an app's user ids, 16 characters.
      const slot = Math.floor(i / WORKERS);
      handlers[i % WORKERS]!.onRequest(makeHandle(slot, 1), Method.Get, `/poll?client=user:${String(i).padStart(11, '0')}&since=1700000000000000`, '');
    }
    while (manager.stats().held_polls < end) await new Promise((resolve) => setImmediate(resolve));
  }
  for (const port of managerSides) port.close();
  t.equal(manager.stats().held_polls, clients, 'every poll is held by the manager');
  t.equal(manager.stats().clients, clients);
  t.equal(handlers.reduce((n, h) => n + h.held.size, 0), clients, 'and by its worker');
  t.same(manager.status(`user:${String(clients - 1).padStart(11, '0')}`), { connected: true, queued: 0 });

  const m = manager.memory();
  const managerParts = {
    'client ids (arena)': m.table.arena,
    'client entries (hash, id ref, length)': m.table.entries,
    'hash index (buckets)': m.table.buckets,
    'held polls by entry (worker, handle)': m.held.byEntry,
    'held polls by engine slot (entry)': m.held.bySlot,
  };
  const managerBytes = Object.values(managerParts).reduce((a, b) => a + b, 0);
  const workerBytes = handlers.reduce((n, h) => n + h.held.memory(), 0);
  for (const [part, bytes] of Object.entries(managerParts)) t.comment(`manager ${part}: ${(bytes / clients).toFixed(1)} bytes per held poll`);
  t.comment(`manager total: ${(managerBytes / clients).toFixed(1)} bytes per held poll`);
  t.comment(`worker (generation, cursor by engine slot): ${(workerBytes / clients).toFixed(1)} bytes per held poll`);
  t.ok(managerBytes / clients <= MANAGER_BUDGET, `manager: ${(managerBytes / clients).toFixed(1)} <= ${MANAGER_BUDGET} bytes per held poll`);
  t.ok(workerBytes / clients <= WORKER_BUDGET, `worker: ${(workerBytes / clients).toFixed(1)} <= ${WORKER_BUDGET} bytes per held poll`);
});
