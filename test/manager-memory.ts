// What an idle subscriber (a held poll, no messages) costs the manager: the
// design budget is a few hundred bytes for the whole process, of which the
// manager may take well under 120. Measured as JS heap plus ArrayBuffer
// backing stores after a full GC, with client ids made the way the ring
// reader makes them (fresh flat strings from bytes).
//   MEGACOMET_MEMORY_CLIENTS=1000000 npx tap test/manager-memory.ts   (a bigger run)
import t from 'tap';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Manager } from '../src/manager/manager.js';
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

t.test(`an idle held poll costs the manager well under 120 bytes (${clients} clients)`, async (t) => {
  const scratch = Buffer.alloc(64);
  const before = used();
  const manager = new Manager({ ttlMs: 60_000, maxQueue: 1000 }, new FakeLinks(4).links);
  for (let i = 0; i < clients; i++) {
    // 16-character ids such as "user:0000123456", like an app's user ids.
    const length = scratch.write(`user:${String(i).padStart(11, '0')}`, 'latin1');
    manager.onPoll(i & 3, i * 4 + 0.5, scratch.toString('latin1', 0, length), 1_700_000_000_000_000 + i);
  }
  const after = used();
  const perClient = (after - before) / clients;
  t.comment(`manager memory per idle held poll: ${perClient.toFixed(1)} bytes at ${clients} clients`);
  t.equal(manager.stats().held_polls, clients, 'every poll is held');
  t.ok(perClient < 120, `${perClient.toFixed(1)} bytes per client`);
});
