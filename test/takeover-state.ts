// The takeover's state export and import (src/manager/manager-state.ts,
// src/takeover/state-stream.ts): a manager's queues go through the frames
// into another manager with ids, data byte for byte, expiry times, the id
// counter and the clock intact; a broken or hostile stream is refused.
import t from 'tap';
import { Manager } from '../src/manager/manager.js';
import type { ManagerState } from '../src/manager/manager-state.js';
import { frame, FrameReader, FrameType, jsonFrame, MAX_FRAME_BYTES, type Frame } from '../src/takeover/frames.js';
import { StateDecoder, stateFrames, type StateCounts, type StateSink } from '../src/takeover/state-stream.js';
import { bodyOf, FakeClock, FakeLinks } from './helpers/manager-fakes.js';

const TTL = 60_000;

function newManager(clock: FakeClock, links = new FakeLinks(2)): Manager {
  return new Manager({ ttlMs: TTL, maxQueue: 100_000, now: clock.now, sleep: clock.sleep }, links.links);
}

function sendOk(manager: Manager, client: string, data: string): number {
  const r = manager.send(client, data);
  if (!r.ok) throw new Error(`${r.code} for ${client}`);
  return r.id;
}

/** Every frame of `state`, as one byte string (what goes over the socket). */
function encode(state: ManagerState, frameTarget?: number): Buffer {
  return Buffer.concat([...stateFrames(state, frameTarget)]);
}

/** Feeds `bytes` to a FrameReader in pieces of `piece` bytes and each frame to a decoder into `sink`. */
function decode(bytes: Buffer, sink: StateSink, piece = 4096): StateDecoder {
  const reader = new FrameReader();
  const decoder = new StateDecoder(sink);
  for (let at = 0; at < bytes.length; at += piece) {
    reader.push(bytes.subarray(at, at + piece));
    for (let f = reader.next(); f !== null; f = reader.next()) decoder.frame(f);
  }
  if (reader.buffered !== 0) throw new Error(`${reader.buffered} bytes left over`);
  return decoder;
}

/** Data texts an app may send, each valid JSON exactly as it stands (escapes, big numbers, non-BMP, U+2028). */
const DATA = [
  '{"text":"hi"}',
  '12345678901234567890123456789',
  '"é ü 日本 \u{1F600} \u2028 \u2029"',
  '"\\ud83d\\ude00 \\u0000 \\"quoted\\""',
  '[1, 2,\t3 ]',
  'null',
  '""',
  `"${'x'.repeat(300_000)}"`,
];

t.test('a round trip keeps every queue: ids, data byte for byte, expiry, and nothing acknowledged or expired', async (t) => {
  const clock = new FakeClock();
  const links = new FakeLinks(2);
  const old = newManager(clock, links);
  const sent = new Map<string, Array<{ id: number; data: string }>>();
  for (let i = 0; i < 40; i++) {
    const client = `c${i % 7}:${i % 3}-x_`;
    const data = DATA[i % DATA.length]!;
    const id = sendOk(old, client, data);
    const list = sent.get(client) ?? [];
    list.push({ id, data });
    sent.set(client, list);
    clock.advance(250);
  }
  // One client acknowledges its first two messages; one more client's messages all expire.
  const acked = 'c1:1-x_';
  old.onPoll(0, 1, acked, sent.get(acked)![1]!.id);
  links.take();
  old.onGone(0, 1);
  clock.advance(TTL - 40 * 250 + 1);
  sendOk(old, 'late', '"kept"');
  // The first messages have expired now: 40 * 250 ms ago plus the step above passed the TTL.
  const state = old.exportState();
  const expected = new Map<string, string[]>();
  for (const [client, list] of sent) {
    const left = list.filter((m, i) => !(client === acked && i < 2) && m.id > 0);
    expected.set(client, left.map((m) => m.data));
  }
  t.equal(state.nowMs, clock.ms);
  t.ok(state.queues.every((q) => q.expiresInMs.every((e) => e > 0)), 'only unexpired messages are exported');
  const exportedIds = state.queues.flatMap((q) => q.ids);
  t.ok(exportedIds.every((id) => id <= state.lastIssued), 'lastIssued is at least every exported id');

  // The new process's clock reads differently (anchored at its own start): 3 s behind.
  const clock2 = new FakeClock(clock.ms - 3000);
  const links2 = new FakeLinks(2);
  const fresh = newManager(clock2, links2);
  const decoder = decode(encode(state), fresh, 777);
  t.ok(decoder.complete, 'END came and matched');
  const again = fresh.exportState();
  t.same(again.queues.map((q) => q.client).sort(), state.queues.map((q) => q.client).sort(), 'the same clients');
  for (const q of state.queues) {
    const r = again.queues.find((x) => x.client === q.client)!;
    t.same(r.ids, q.ids, `${q.client}: the same ids`);
    t.ok(r.data.every((d, i) => Buffer.from(d, 'utf8').equals(Buffer.from(q.data[i]!, 'utf8'))), `${q.client}: the same data, byte for byte`);
    t.same(r.expiresInMs, q.expiresInMs, `${q.client}: the same time left to each message`);
  }
  t.equal(fresh.stats().queued, old.stats().queued, 'the same count of queued messages');
  t.equal(fresh.memoryUsed(), old.memoryUsed(), 'the same bytes counted against --max-memory');
  t.equal(fresh.stats().sent, 0, 'imported messages are not counted as sent again');

  // A poll gets exactly what the old process would have delivered.
  const client = state.queues[0]!.client;
  fresh.onPoll(1, 5, client, 0);
  t.same(links2.take(), [{ worker: 1, handle: 5, body: bodyOf(state.queues[0]!.ids.at(-1)!, state.queues[0]!.data) }]);

  // Ids go on above every old id, and the clock (3 s behind) was moved up to the old one: no wait.
  const next = sendOk(fresh, 'someone', '1');
  t.ok(next > state.lastIssued, `the next id ${next} is above the old process's last ${state.lastIssued}`);
  t.equal(clock2.slept, 0, 'no wait for the clock');

  // Expiry: the message with the least time left expires exactly then, measured on the new clock.
  const least = Math.min(...again.queues.map((q) => q.expiresInMs[0]!));
  const before = fresh.stats().queued;
  clock2.advance(least - 1);
  fresh.expire();
  t.equal(fresh.stats().expired, 0, 'nothing expires before its time');
  clock2.advance(2000);
  fresh.expire();
  t.ok(fresh.stats().expired >= 1 && fresh.stats().queued < before, 'it expires once its time has passed');
});

t.test('a clock ahead of the old one is kept, and ids still go above the old ones', async (t) => {
  const clock = new FakeClock();
  const old = newManager(clock);
  let last = 0;
  for (let i = 0; i < 5000; i++) last = sendOk(old, 'burst', '1');
  const state = old.exportState();
  const clock2 = new FakeClock(clock.ms + 5000);
  const fresh = newManager(clock2);
  decode(encode(state), fresh);
  t.ok(sendOk(fresh, 'x', '1') > last);
  t.equal(fresh.exportState().nowMs, clock2.ms, 'the new clock is not moved back');
});

t.test('a long queue is cut into several MESSAGES frames and comes back whole', async (t) => {
  const clock = new FakeClock();
  const old = newManager(clock);
  const ids: number[] = [];
  for (let i = 0; i < 3000; i++) ids.push(sendOk(old, 'long', JSON.stringify({ i, pad: 'y'.repeat(i % 50) })));
  const state = old.exportState();
  const frames = [...stateFrames(state, 8 * 1024)];
  const messageFrames = frames.filter((f) => f[4] === FrameType.Messages).length;
  t.ok(messageFrames > 10, `${messageFrames} MESSAGES frames`);
  t.ok(frames.every((f) => f.length < 8 * 1024 + 200), 'each frame stays near the target');
  const fresh = newManager(new FakeClock(clock.ms));
  decode(Buffer.concat(frames), fresh, 1);
  t.same(fresh.exportState().queues[0]!.ids, ids);
});

t.test('an empty state round trips too (ids and clock only)', async (t) => {
  const clock = new FakeClock();
  const old = newManager(clock);
  const state = old.exportState();
  t.same(state.queues, []);
  const fresh = newManager(new FakeClock(clock.ms + 10));
  const decoder = decode(encode(state), fresh);
  t.ok(decoder.complete);
  t.same(decoder.received, { clients: 0, messages: 0, dataBytes: 0, memberships: 0 });
});

t.test('import only into a manager that has served nothing yet', async (t) => {
  const clock = new FakeClock();
  const m = newManager(clock);
  sendOk(m, 'a', '1');
  t.throws(() => m.importClock(clock.ms, 1), /already served/);
});

/** A sink that records what it is given. */
function recorder(): StateSink & { queues: Array<{ client: string; ids: number[] }>; clock: number[] } {
  const out = {
    queues: [] as Array<{ client: string; ids: number[] }>,
    clock: [] as number[],
    importClock(nowMs: number, lastIssued: number) {
      out.clock.push(nowMs, lastIssued);
    },
    importQueue(client: string, ids: number[]) {
      out.queues.push({ client, ids });
    },
    importGroup() {
      throw new Error('no GROUP frame in these streams');
    },
  };
  return out;
}

function clientFrame(client: string, count: number): Buffer {
  const p = Buffer.alloc(1 + client.length + 4);
  p[0] = client.length;
  p.write(client, 1, 'latin1');
  p.writeUInt32LE(count, 1 + client.length);
  return frame(FrameType.Client, p);
}

function messagesFrame(messages: Array<[number, number, string]>): Buffer {
  const parts = [Buffer.alloc(4)];
  parts[0]!.writeUInt32LE(messages.length, 0);
  for (const [id, expiresIn, data] of messages) {
    const h = Buffer.alloc(20);
    h.writeDoubleLE(id, 0);
    h.writeDoubleLE(expiresIn, 8);
    const bytes = Buffer.from(data, 'utf8');
    h.writeUInt32LE(bytes.length, 16);
    parts.push(h, bytes);
  }
  return frame(FrameType.Messages, Buffer.concat(parts));
}

function toFrames(bytes: Buffer[]): Frame[] {
  const reader = new FrameReader();
  for (const b of bytes) reader.push(b);
  const out: Frame[] = [];
  for (let f = reader.next(); f !== null; f = reader.next()) out.push(f);
  return out;
}

const BEGIN = jsonFrame(FrameType.Begin, { nowMs: 1_700_000_000_000, lastIssued: 100, clients: 1, messages: 2 });
// Without memberships counts, as an older process (without groups) writes them: test/takeover-groups.ts has the rest.
const END: Omit<StateCounts, 'memberships'> = { clients: 1, messages: 2, dataBytes: 2 };

t.test('the decoder refuses streams that are out of order, inconsistent or malformed', async (t) => {
  const good = [BEGIN, clientFrame('a', 2), messagesFrame([[10, 5, '1'], [11, 5, '2']]), jsonFrame(FrameType.End, END)];
  {
    const sink = recorder();
    const d = new StateDecoder(sink);
    const results = toFrames(good).map((f) => d.frame(f));
    t.same(results, [false, false, false, true], 'a good stream is accepted and ends at END');
    t.same(sink.queues, [{ client: 'a', ids: [10, 11] }]);
  }
  const cases: Array<[string, Buffer[], RegExp]> = [
    ['no BEGIN first', [clientFrame('a', 2)], /before BEGIN/],
    ['MESSAGES without CLIENT', [BEGIN, messagesFrame([[10, 5, '1']])], /without a CLIENT/],
    ['ids not increasing', [BEGIN, clientFrame('a', 2), messagesFrame([[10, 5, '1'], [10, 5, '2']])], /not above/],
    ['an id above lastIssued', [BEGIN, clientFrame('a', 2), messagesFrame([[10, 5, '1'], [101, 5, '2']])], /lastIssued/],
    ['an expiry in the past', [BEGIN, clientFrame('a', 2), messagesFrame([[10, 0, '1']])], /expiry/],
    ['more messages than the CLIENT said', [BEGIN, clientFrame('a', 1), messagesFrame([[10, 5, '1'], [11, 5, '2']])], /still to come/],
    ['END before the messages', [BEGIN, clientFrame('a', 2), messagesFrame([[10, 5, '1']]), jsonFrame(FrameType.End, END)], /still to come/],
    ['END counts that differ', [BEGIN, clientFrame('a', 2), messagesFrame([[10, 5, '1'], [11, 5, '2']]), jsonFrame(FrameType.End, { ...END, dataBytes: 3 })], /do not match/],
    ['a bad client id', [BEGIN, clientFrame('a.b', 2)], /not a valid client id/],
    ['a CLIENT with no messages', [BEGIN, clientFrame('a', 0)], /no messages/],
    ['a control frame inside', [BEGIN, jsonFrame(FrameType.Take, {})], /inside the state stream/],
    ['a BEGIN without numbers', [jsonFrame(FrameType.Begin, { nowMs: 'soon' })], /bad nowMs/],
    ['data cut short', [BEGIN, clientFrame('a', 2), frame(FrameType.Messages, Buffer.from([1, 0, 0, 0, 1, 2, 3]))], /cut short/],
  ];
  for (const [what, bytes, error] of cases) {
    const d = new StateDecoder(recorder());
    t.throws(() => toFrames(bytes).forEach((f) => d.frame(f)), error, what);
    t.notOk(d.complete, `${what}: not complete`);
  }
});

t.test('the frame reader takes frames split anywhere and refuses impossible lengths', async (t) => {
  const bytes = Buffer.concat([jsonFrame(FrameType.Hello, { a: 1 }), frame(FrameType.Take), jsonFrame(FrameType.Info, { b: 'é' })]);
  const reader = new FrameReader();
  const types: number[] = [];
  for (const byte of bytes) {
    reader.push(Buffer.from([byte]));
    for (let f = reader.next(); f !== null; f = reader.next()) types.push(f.type);
  }
  t.same(types, [FrameType.Hello, FrameType.Take, FrameType.Info]);
  const bad = new FrameReader();
  const header = Buffer.alloc(5);
  header.writeUInt32LE(MAX_FRAME_BYTES + 1, 0);
  bad.push(header);
  t.throws(() => bad.next(), /not a takeover stream/);
  const zero = new FrameReader();
  zero.push(Buffer.alloc(8));
  t.throws(() => zero.next(), /not a takeover stream/);
});
