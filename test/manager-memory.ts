// What an idle subscriber (a held poll, no messages) costs the JS heap of the
// manager and of the worker holding it, measured as V8 sees it: heap used plus
// ArrayBuffer backing stores after a full GC, before and after N polls. Client
// ids reach the manager as the ring reader hands them over (bytes in a buffer,
// src/manager/worker-port.ts); the worker's HeldPolls gets what a parsed /poll
// gives it. test/memory-per-poll.ts counts the same parts exactly from their
// typed arrays; this one also sees any V8 overhead or garbage kept.
//   MEGACOMET_MEMORY_CLIENTS=1000000 npx tap test/manager-memory.ts   (a bigger run)
import t from 'tap';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { makeHandle } from '../src/engine/events.js';
import { Manager } from '../src/manager/manager.js';
import { HeldPolls } from '../src/worker/held-polls.js';
import { FakeLinks } from './helpers/manager-fakes.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function used(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const clients = Number(process.env.MEGACOMET_MEMORY_CLIENTS ?? 100_000);
const WORKERS = 4;
/** Heap bytes per held poll allowed; the exact budgets are in test/memory-per-poll.ts, this leaves room for V8's own slack. */
const MANAGER_LIMIT = 56;
const WORKER_LIMIT = 20;

t.test(`an idle held poll costs the manager under ${MANAGER_LIMIT} bytes of heap (${clients} clients)`, async (t) => {
  const scratch = Buffer.alloc(64);
  const before = used();
  const manager = new Manager({ ttlMs: 60_000, maxQueue: 1000 }, new FakeLinks(WORKERS).links);
  for (let i = 0; i < clients; i++) {
    // 16-character ids such as "user:00000123456", like an app's user ids; engine slots dense per worker.
    const length = scratch.write(`user:${String(i).padStart(11, '0')}`, 'latin1');
    manager.onPollBytes(i % WORKERS, makeHandle(Math.floor(i / WORKERS), 3), 1_700_000_000_000_000 + i, scratch, 0, length);
  }
  const after = used();
  const perClient = (after - before) / clients;
  t.comment(`manager heap per idle held poll: ${perClient.toFixed(1)} bytes at ${clients} clients`);
  t.equal(manager.stats().held_polls, clients, 'every poll is held');
  t.ok(perClient < MANAGER_LIMIT, `${perClient.toFixed(1)} bytes per client`);
});

t.test(`a held poll costs its worker under ${WORKER_LIMIT} bytes of heap (${clients} polls)`, async (t) => {
  const before = used();
  const held = new HeldPolls();
  for (let i = 0; i < clients; i++) held.add(makeHandle(i, 3), 1_700_000_000_000_000 + i, undefined);
  const after = used();
  const perPoll = (after - before) / clients;
  t.comment(`worker heap per held poll: ${perPoll.toFixed(1)} bytes at ${clients} polls`);
  t.equal(held.size, clients, 'every poll is held');
  t.ok(perPoll < WORKER_LIMIT, `${perPoll.toFixed(1)} bytes per poll`);
});
