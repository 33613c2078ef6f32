// Quiet POLLs (src/ring/prompt-board.ts, src/manager/poll-intake.ts): a POLL
// that needs no prompt answer does not wake the manager, and still reaches it
// before anything that depends on it. Real rings and a real manager in one
// thread; the worker's side is its real port.
import t from 'tap';
import { PromptBoard, createPromptBoard, promptBucket } from '../src/ring/prompt-board.js';
import { RingWriter, createRingBuffer } from '../src/ring/ring.js';
import { READER_SLEEPING_WORD } from '../src/ring/ring-layout.js';
import { RingManagerPort } from '../src/worker/manager-port.js';
import { RingWorkerPort } from '../src/manager/worker-port.js';
import { Manager } from '../src/manager/manager.js';
import { hashIdString } from '../src/protocol/client-id-hash.js';
import { PollMode, RECORD_OFFSET, RecordType } from '../src/ring/records.js';

t.test('the board says which polls are prompt', async (t) => {
  const board = new PromptBoard(createPromptBoard());
  const b = promptBucket(hashIdString('alice'));
  t.notOk(board.needsPrompt(b, 0), 'nothing held, nothing queued: quiet');
  board.held(b);
  t.ok(board.needsPrompt(b, 0), 'a client of the bucket is held: prompt (it may be this client, to be replaced)');
  board.released(b);
  t.notOk(board.needsPrompt(b, 0));
  board.queued(b, 1_000_000_000_123);
  t.ok(board.needsPrompt(b, 1_000_000_000_122), 'a message above the cursor: prompt');
  t.notOk(board.needsPrompt(b, 1_000_000_000_123), 'the cursor has the newest id: quiet');
  board.queuedUpTo(b, 5);
  t.notOk(board.needsPrompt(b, 1_000_000_000_123), 'queuedUpTo never lowers the bucket');
  board.setMembers(true);
  t.ok(board.needsPrompt(b, 1_000_000_000_123), 'while any client is in a group, every poll is prompt');
  board.setMembers(false);
  t.throws(() => new PromptBoard(new SharedArrayBuffer(64)), /createPromptBoard/);
});

interface Rig {
  manager: Manager;
  workerSide: RingManagerPort;
  delivered: Array<{ handle: number; body: string }>;
  /** Whether the manager's reader of the worker's ring is asleep (announced, not woken). */
  managerAsleep(): boolean;
  toManager: SharedArrayBuffer;
  close(): void;
}

function rig(): Rig {
  const toManager = createRingBuffer(1 << 16);
  const fromManager = createRingBuffer(1 << 16);
  const board = createPromptBoard();
  const managerSide = new RingWorkerPort(0, toManager, fromManager);
  const manager = new Manager({ ttlMs: 60_000, maxQueue: 100, promptBoard: board }, [managerSide]);
  managerSide.start(manager);
  manager.takeInFrom([managerSide]);
  const workerSide = new RingManagerPort(toManager, fromManager, board);
  const delivered: Array<{ handle: number; body: string }> = [];
  workerSide.start({
    deliver: (handle, body) => delivered.push({ handle, body: body.toString() }),
    release: (handle) => delivered.push({ handle, body: 'RELEASE' }),
  });
  const ctl = new Int32Array(toManager);
  return {
    manager,
    workerSide,
    delivered,
    toManager,
    managerAsleep: () => Atomics.load(ctl, READER_SLEEPING_WORD) === 1,
    close: () => {
      workerSide.close();
      managerSide.close();
    },
  };
}

/** Lets the loop turn until `done()`; a condition, not a count of turns, so a busy machine only makes it slower. */
async function until(what: string, done: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

t.test('a quiet poll leaves the manager asleep and is taken in by the next send', async (t) => {
  const r = rig();
  t.teardown(() => r.close());
  await until('the manager reader to sleep', r.managerAsleep);
  r.workerSide.poll(7, 0, 'alice');
  t.ok(r.managerAsleep(), 'the POLL did not wake the manager');
  t.equal(r.manager.stats().held_polls, 1, 'a stats reply takes the POLL in first');
  const sent = r.manager.send('alice', '"hi"');
  t.ok(sent.ok);
  await until('the delivery', () => r.delivered.length === 1);
  t.equal(r.delivered[0]!.handle, 7);
  t.match(r.delivered[0]!.body, /"hi"/);

  // A poll that lost its answer asks again from before the message: prompt, answered at once.
  const id = sent.ok ? sent.id : 0;
  await until('the manager reader to sleep', r.managerAsleep);
  r.workerSide.poll(8, 0, 'alice');
  t.notOk(r.managerAsleep(), 'a cursor below a queued message wakes the manager');
  await until('the answer to the old cursor', () => r.delivered.length === 2);
  t.equal(r.delivered[1]!.handle, 8);
  t.match(r.delivered[1]!.body, /"hi"/);
  // The next poll acknowledges what it got: quiet again, and held.
  await until('the manager reader to sleep', r.managerAsleep);
  r.workerSide.poll(9, id, 'alice');
  t.ok(r.managerAsleep(), 'a re-poll with the newest id is quiet');
  t.same(r.manager.status('alice'), { connected: true, queued: 0 }, 'status takes it in: held, the message acknowledged');
  // A second poll of a held client wakes the manager, which tells the older one.
  await until('the manager reader to sleep', r.managerAsleep);
  r.workerSide.poll(10, id, 'alice');
  t.notOk(r.managerAsleep(), 'a poll of a held client wakes the manager');
  await until('the release', () => r.delivered.length === 3);
  t.same(r.delivered[2], { handle: 9, body: 'RELEASE' });
});

t.test('a POLL published after the manager queued in the same task is taken in by the settle', async (t) => {
  const r = rig();
  t.teardown(() => r.close());
  await until('the manager reader to sleep', r.managerAsleep);
  // The race the board's handshake closes: the worker looked at the board before the manager's
  // store (so it stays quiet), and published after the manager's own look at the ring. Written
  // here straight into the ring, quietly, right after the send in the same task.
  const sent = r.manager.send('bob', '1');
  t.ok(sent.ok);
  const writer = new RingWriter(r.toManager);
  const record = Buffer.alloc(64);
  record[RECORD_OFFSET.type] = RecordType.Poll;
  record[RECORD_OFFSET.mode] = PollMode.Poll;
  record[RECORD_OFFSET.clientLen] = 3;
  record.writeDoubleLE(11, RECORD_OFFSET.handle);
  record.writeDoubleLE(0, RECORD_OFFSET.since);
  record.write('bob', RECORD_OFFSET.client, 'latin1');
  // Two writers on one ring are never allowed in production; this one writes after the port's
  // last record and the port writes no more in this test.
  writer.writeQuietly(record, RECORD_OFFSET.client + 3);
  t.ok(r.managerAsleep(), 'nothing woke the manager');
  await until('the delivery', () => r.delivered.length === 1);
  t.equal(r.delivered[0]!.handle, 11, 'the settle after the send read the POLL and answered it');
  writer.close();
});
