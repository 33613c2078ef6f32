// Groups across a takeover (src/takeover/state-stream.ts, GROUP frames): the
// members of every group reach the new process, a member's pending publishes
// arrive as its queued messages under their ids, publishes after the switch
// reach the same members; streams from a process without groups still decode,
// and malformed GROUP frames are refused.
import t from 'tap';
import { Manager } from '../src/manager/manager.js';
import { frame, FrameReader, FrameType, jsonFrame, type Frame } from '../src/takeover/frames.js';
import { StateDecoder, stateFrames, type StateSink } from '../src/takeover/state-stream.js';
import { bodyOf, FakeClock, FakeLinks } from './helpers/manager-fakes.js';

function newManager(clock: FakeClock, links = new FakeLinks(1)): Manager {
  return new Manager({ ttlMs: 60_000, maxQueue: 1000, now: clock.now, sleep: clock.sleep }, links.links);
}

function toFrames(bytes: Buffer[]): Frame[] {
  const reader = new FrameReader();
  for (const b of bytes) reader.push(b);
  const out: Frame[] = [];
  for (let f = reader.next(); f !== null; f = reader.next()) out.push(f);
  return out;
}

function transfer(from: Manager, to: Manager, frameTarget?: number): StateDecoder {
  const decoder = new StateDecoder(to);
  for (const f of toFrames([...stateFrames(from.exportState(), frameTarget)])) decoder.frame(f);
  return decoder;
}

t.test('members, and the publishes pending for them, move to the new process', async (t) => {
  const clock = new FakeClock();
  const old = newManager(clock);
  old.join(['a', 'b'], 'room');
  old.join(['b'], 'other');
  const p = old.publish('room', '"p"');
  if (!p.ok) throw new Error(p.code);
  const links = new FakeLinks(1);
  const fresh = newManager(clock, links);
  const decoder = transfer(old, fresh);
  t.ok(decoder.complete);
  t.equal(decoder.received.memberships, 3);
  t.same(fresh.groupsOf('b').sort(), ['other', 'room']);
  t.equal(fresh.group('room', 10)?.members, 2);
  fresh.onPoll(0, 1, 'a', 0);
  t.same(links.take(), [{ worker: 0, handle: 1, body: bodyOf(p.id, ['"p"']) }], 'the pending publish, under its id');
  const after = fresh.publish('room', '"after"');
  t.match(after, { ok: true, queued: 2, full: 0 }, 'publishes after the switch reach the same members');
  if (after.ok) t.ok(after.id > p.id);
  t.same(old.groupsOf('a'), ['room'], 'the old process keeps its memberships, should the handover fail');
});

t.test('a big group comes in several GROUP frames and whole', async (t) => {
  const clock = new FakeClock();
  const old = newManager(clock);
  const members = Array.from({ length: 5000 }, (_, i) => `member-${i}`);
  old.join(members, 'big');
  const fresh = newManager(clock);
  const frames = toFrames([...stateFrames(old.exportState(), 10_000)]);
  t.ok(frames.filter((f) => f.type === FrameType.Group).length > 1, 'several GROUP frames');
  const decoder = new StateDecoder(fresh);
  for (const f of frames) decoder.frame(f);
  t.ok(decoder.complete);
  t.same(fresh.group('big', 10_000)?.clients.sort(), members.sort());
});

/** A sink that records groups. */
function recorder(): StateSink & { groups: Array<[string, string[]]> } {
  const out = {
    groups: [] as Array<[string, string[]]>,
    importClock() {},
    importQueue() {},
    importGroup(group: string, members: string[]) {
      out.groups.push([group, members]);
    },
  };
  return out;
}

function groupFrame(group: string, members: string[], count = members.length): Buffer {
  const parts = [Buffer.from([group.length]), Buffer.from(group, 'latin1'), Buffer.alloc(4)];
  parts[2]!.writeUInt32LE(count, 0);
  for (const m of members) parts.push(Buffer.from([m.length]), Buffer.from(m, 'latin1'));
  return frame(FrameType.Group, Buffer.concat(parts));
}

const BEGIN = jsonFrame(FrameType.Begin, { nowMs: 1_700_000_000_000, lastIssued: 100, clients: 0, messages: 0, memberships: 2 });
const END = jsonFrame(FrameType.End, { clients: 0, messages: 0, dataBytes: 0, memberships: 2 });

t.test('GROUP frames are checked', async (t) => {
  const sink = recorder();
  const d = new StateDecoder(sink);
  t.same(toFrames([BEGIN, groupFrame('g.1', ['a', 'b']), END]).map((f) => d.frame(f)), [false, false, true]);
  t.same(sink.groups, [['g.1', ['a', 'b']]]);
  const old = recorder();
  const withoutGroups = new StateDecoder(old);
  const legacy = [jsonFrame(FrameType.Begin, { nowMs: 1_700_000_000_000, lastIssued: 100, clients: 0, messages: 0 }), jsonFrame(FrameType.End, { clients: 0, messages: 0, dataBytes: 0 })];
  t.same(toFrames(legacy).map((f) => withoutGroups.frame(f)), [false, true], 'a stream from a process without groups');
  const cases: Array<[string, Buffer[], RegExp]> = [
    ['a bad group name', [BEGIN, groupFrame('a b', ['x'])], /not a valid group name/],
    ['a bad member id', [BEGIN, groupFrame('g', ['a.b'])], /not a valid client id/],
    ['no members', [BEGIN, groupFrame('g', [])], /no members/],
    ['more members than the count', [BEGIN, groupFrame('g', ['a', 'b'], 1)], /bytes after/],
    ['fewer members than the count', [BEGIN, groupFrame('g', ['a'], 2)], /cut short/],
    ['more memberships than BEGIN said', [BEGIN, groupFrame('g', ['a', 'b', 'c'])], /more memberships/],
    ['END counts that differ', [BEGIN, groupFrame('g', ['a']), END], /do not match/],
    ['GROUP while messages are due', [jsonFrame(FrameType.Begin, { nowMs: 1_700_000_000_000, lastIssued: 100, clients: 1, messages: 1, memberships: 1 }), frame(FrameType.Client, Buffer.from([1, 0x61, 1, 0, 0, 0])), groupFrame('g', ['a'])], /still to come/],
  ];
  for (const [what, bytes, error] of cases) {
    const decoder = new StateDecoder(recorder());
    t.throws(() => toFrames(bytes).forEach((f) => decoder.frame(f)), error, what);
    t.notOk(decoder.complete, `${what}: not complete`);
  }
});
