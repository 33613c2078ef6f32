// Polls arriving and ending must not leave garbage in V8's old space: what a
// request or a record allocates has to die young, in the scavenger, and what
// a held poll keeps lives in typed arrays, outside the heap. A million
// subscribers each re-polling every 30 s are 33,000 POLL and GONE records a
// second; a string per record that outlived a scavenge (the manager's Map
// keys did) would be promoted and left to full collections of a big heap.
//
// Measured as old space growth (v8 heap space statistics) across many rounds
// of the steady state of idle subscribers, with scavenges forced between
// rounds so that anything still referenced is promoted:
//   manager  GONE then POLL of the same clients (ids as ring bytes)
//   worker   /poll requests held, then answered at the poll timeout
// Before the client table, the same rounds measured 3.5 bytes per GONE+POLL
// pair in the manager (its Map keys, a string per POLL: 32 bytes each once
// polls are held for longer than two scavenges) and 32 bytes per held poll in
// the worker (the client id string it kept).
import t from 'tap';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { NativeEngine } from '../src/engine/binding.js';
import { makeHandle, Method } from '../src/engine/events.js';
import { parseArgs } from '../src/config.js';
import { Manager } from '../src/manager/manager.js';
import { RequestHandler } from '../src/worker/request-handler.js';
import { FakeLinks } from './helpers/manager-fakes.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (options?: { type: 'minor' | 'major' }) => void;

const CLIENTS = 50_000;
const ROUNDS = 8;
/** Bytes of old space per record or request allowed: far below one string (32 bytes for a 16-character id). */
const LIMIT = 1;

function oldSpace(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!.space_used_size;
}

/** Old space growth per operation over ROUNDS rounds of `round`, after `warm` has set everything up. */
function promotedPerOp(warm: () => void, round: (r: number) => void, opsPerRound: number): number {
  warm();
  round(0); // let the compiler and every lazily made page settle
  gc();
  gc();
  const before = oldSpace();
  for (let r = 1; r <= ROUNDS; r++) {
    round(r);
    // Two scavenges: whatever this round left referenced is promoted now.
    gc({ type: 'minor' });
    gc({ type: 'minor' });
  }
  return (oldSpace() - before) / (ROUNDS * opsPerRound);
}

t.test('the manager: a GONE and a POLL of an idle subscriber promote nothing', async (t) => {
  const manager = new Manager({ ttlMs: 60_000, maxQueue: 100 }, new FakeLinks(2).links);
  const ids = Buffer.alloc(CLIENTS * 16);
  for (let i = 0; i < CLIENTS; i++) ids.write(`user:${String(i).padStart(11, '0')}`, i * 16, 'latin1');
  // Handles with generations past 2^31: doubles, as a busy engine's are.
  const handle = (i: number, r: number): number => makeHandle(i >> 1, 2 ** 28 + r);
  const perPair = promotedPerOp(
    () => {
      for (let i = 0; i < CLIENTS; i++) manager.onPollBytes(i & 1, handle(i, 0), 1_700_000_000_000_000, ids, i * 16, 16);
    },
    (r) => {
      for (let i = 0; i < CLIENTS; i++) {
        manager.onGone(i & 1, handle(i, 2 * r));
        manager.onPollBytes(i & 1, handle(i, 2 * r + 1), 1_700_000_000_000_000, ids, i * 16, 16);
        manager.onGone(i & 1, handle(i, 2 * r + 1));
        manager.onPollBytes(i & 1, handle(i, 2 * r + 2), 1_700_000_000_000_000, ids, i * 16, 16);
      }
    },
    2 * CLIENTS,
  );
  t.equal(manager.stats().held_polls, CLIENTS);
  t.comment(`manager: old space grew ${perPair.toFixed(3)} bytes per GONE+POLL pair`);
  t.ok(perPair < LIMIT, `${perPair.toFixed(3)} bytes per GONE+POLL pair`);
});

t.test('the worker: a /poll held and answered at its timeout promotes nothing', async (t) => {
  const engine = { events: new ArrayBuffer(0), respond: (): boolean => true, hold: (): boolean => true } as unknown as NativeEngine;
  let records = 0;
  const handler = new RequestHandler(engine, parseArgs([]), {
    poll: () => records++,
    stream: () => records++,
    gone: () => records++,
  });
  const targets = Array.from({ length: CLIENTS }, (_, i) => `/poll?client=user:${String(i).padStart(11, '0')}&since=1700000000000000`);
  const perRequest = promotedPerOp(
    () => {},
    (r) => {
      for (let i = 0; i < CLIENTS; i++) handler.onRequest(makeHandle(i, 2 * r + 1), Method.Get, targets[i]!, '');
      // Held across a scavenge, as polls are held for seconds.
      gc({ type: 'minor' });
      gc({ type: 'minor' });
      for (let i = 0; i < CLIENTS; i++) handler.onTimeout(makeHandle(i, 2 * r + 1));
    },
    CLIENTS,
  );
  t.equal(records, 2 * CLIENTS * (ROUNDS + 1), 'a POLL and a GONE per request');
  t.comment(`worker: old space grew ${perRequest.toFixed(3)} bytes per held poll`);
  t.ok(perRequest < LIMIT, `${perRequest.toFixed(3)} bytes per held poll`);
});
