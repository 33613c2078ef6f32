// The manager's state (src/manager/manager-state.ts) as a stream of frames
// (./frames.ts), and back:
//
//   BEGIN     JSON {nowMs, lastIssued, clients, messages, memberships}
//   CLIENT    u8 id length, the id (ASCII), u32 message count         one per queued client,
//   MESSAGES  u32 count, then per message:                              followed by MESSAGES frames
//               f64 id, f64 ms until it expires, u32 data bytes,      carrying exactly that count
//               the data (UTF-8, the JSON text exactly as sent)
//   GROUP     u8 name length, the name (ASCII), u32 member count,     after every queue; a big
//               then per member u8 id length, the id (ASCII)          group takes several
//   END       JSON {clients, messages, dataBytes, memberships}
//
// GROUP frames and the memberships counts came with groups, in the same
// version of the stream: a stream without them (an older process) is a state
// without groups, and an older process refuses a GROUP frame (the takeover
// is then given up and the sending process goes on serving).
//
// All numbers little-endian. MESSAGES frames are cut at about FRAME_TARGET
// bytes, so neither side holds more than a frame of encoded state at once.
// The decoder checks everything it can (order, counts, ids increasing and not
// above lastIssued, expiry times, client ids) and hands each MESSAGES frame
// to its sink as it comes: an import needs no second copy of the state, and
// what arrived before a broken stream is already in the sink.

import { isValidClientId, MAX_CLIENT_ID_BYTES } from '../protocol/client-id.js';
import { isValidGroupName } from '../protocol/group-name.js';
import { MAX_MESSAGE_ID } from '../protocol/cursor.js';
import type { ManagerState } from '../manager/manager-state.js';
import { frame, FrameError, frameJson, frameName, FrameType, jsonFrame, type Frame } from './frames.js';

/** MESSAGES frames are closed once they pass this many bytes (a single message may make one larger). */
export const FRAME_TARGET = 1 << 20;
/** Bytes of one message's header in a MESSAGES frame: id, expiry, data length. */
const MESSAGE_HEADER_BYTES = 20;

/** Counts of a state stream (END carries them; the decoder compares). */
export interface StateCounts {
  clients: number;
  messages: number;
  /** UTF-8 bytes of every message's data. */
  dataBytes: number;
  /** Members over every GROUP frame. */
  memberships: number;
}

/** The frames of `state`, in order, made one at a time (a generator, so a writer can wait for the socket between them). */
export function* stateFrames(state: ManagerState, frameTarget = FRAME_TARGET): Generator<Buffer, StateCounts> {
  let messages = 0;
  for (const q of state.queues) messages += q.ids.length;
  let memberships = 0;
  for (const g of state.groups ?? []) memberships += g.members.length;
  yield jsonFrame(FrameType.Begin, { nowMs: state.nowMs, lastIssued: state.lastIssued, clients: state.queues.length, messages, memberships });
  let dataBytes = 0;
  for (const q of state.queues) {
    const header = Buffer.allocUnsafe(1 + q.client.length + 4);
    header[0] = q.client.length;
    header.write(q.client, 1, 'latin1');
    header.writeUInt32LE(q.ids.length, 1 + q.client.length);
    yield frame(FrameType.Client, header);
    let i = 0;
    while (i < q.ids.length) {
      // Size the frame first: messages from i to end, at least one, while under the target.
      let end = i;
      let bytes = 4;
      const lengths: number[] = [];
      while (end < q.ids.length) {
        const length = Buffer.byteLength(q.data[end]!, 'utf8');
        if (end > i && bytes + MESSAGE_HEADER_BYTES + length > frameTarget) break;
        lengths.push(length);
        bytes += MESSAGE_HEADER_BYTES + length;
        end++;
      }
      const payload = Buffer.allocUnsafe(bytes);
      payload.writeUInt32LE(end - i, 0);
      let at = 4;
      for (let j = i; j < end; j++) {
        const length = lengths[j - i]!;
        payload.writeDoubleLE(q.ids[j]!, at);
        payload.writeDoubleLE(q.expiresInMs[j]!, at + 8);
        payload.writeUInt32LE(length, at + 16);
        payload.write(q.data[j]!, at + MESSAGE_HEADER_BYTES, length, 'utf8');
        at += MESSAGE_HEADER_BYTES + length;
        dataBytes += length;
      }
      yield frame(FrameType.Messages, payload);
      i = end;
    }
  }
  for (const g of state.groups ?? []) {
    let i = 0;
    do {
      // Members from i on while the frame stays under the target (ids are at most 65 bytes each).
      const end = Math.min(g.members.length, i + Math.max(1, Math.floor(frameTarget / 65)));
      let bytes = 1 + g.group.length + 4;
      for (let j = i; j < end; j++) bytes += 1 + g.members[j]!.length;
      const payload = Buffer.allocUnsafe(bytes);
      payload[0] = g.group.length;
      payload.write(g.group, 1, 'latin1');
      let at = 1 + g.group.length;
      payload.writeUInt32LE(end - i, at);
      at += 4;
      for (let j = i; j < end; j++) {
        const id = g.members[j]!;
        payload[at] = id.length;
        payload.write(id, at + 1, 'latin1');
        at += 1 + id.length;
      }
      yield frame(FrameType.Group, payload);
      i = end;
    } while (i < g.members.length);
  }
  const counts = { clients: state.queues.length, messages, dataBytes, memberships };
  yield jsonFrame(FrameType.End, counts);
  return counts;
}

/** Where a decoded state goes (a Manager in production: importClock, importQueue). */
export interface StateSink {
  importClock(sourceNowMs: number, lastIssued: number): unknown;
  /** Appends messages to `client`'s queue; called once per MESSAGES frame. */
  importQueue(client: string, ids: number[], data: string[], expiresInMs: number[]): void;
  /** Puts `members` in `group`; called once per GROUP frame. */
  importGroup(group: string, members: string[]): void;
}

/** What BEGIN announced. */
export interface StateBegin {
  nowMs: number;
  lastIssued: number;
  clients: number;
  messages: number;
  memberships: number;
}

export class StateStreamError extends FrameError {
  override name = 'StateStreamError';
}

/**
 * Reads the state frames (BEGIN to END) into a sink. frame() throws
 * StateStreamError on anything out of order or malformed; the frames before
 * it are in the sink.
 */
export class StateDecoder {
  private begun: StateBegin | null = null;
  private ended = false;
  /** The client whose MESSAGES come now, and how many of them are still to come. */
  private client: string | null = null;
  private left = 0;
  private lastId = 0;
  private readonly got: StateCounts = { clients: 0, messages: 0, dataBytes: 0, memberships: 0 };

  constructor(private readonly sink: StateSink) {}

  /** BEGIN's figures, once it came. */
  get begin(): StateBegin | null {
    return this.begun;
  }

  /** Whether END came and matched what was received. */
  get complete(): boolean {
    return this.ended;
  }

  /** Clients begun, messages and data bytes received so far. */
  get received(): Readonly<StateCounts> {
    return this.got;
  }

  /** Takes one frame; returns true once END has come and checked out. */
  frame(f: Frame): boolean {
    if (this.ended) throw new StateStreamError(`${frameName(f.type)} after END`);
    if (this.begun === null) {
      if (f.type !== FrameType.Begin) throw new StateStreamError(`${frameName(f.type)} before BEGIN`);
      this.onBegin(f);
      return false;
    }
    switch (f.type) {
      case FrameType.Client:
        this.onClient(f.payload);
        return false;
      case FrameType.Messages:
        this.onMessages(f.payload);
        return false;
      case FrameType.Group:
        this.onGroup(f.payload);
        return false;
      case FrameType.End:
        this.onEnd(f);
        return true;
      default:
        throw new StateStreamError(`${frameName(f.type)} inside the state stream`);
    }
  }

  private onBegin(f: Frame): void {
    const v = frameJson(f);
    const nowMs = v.nowMs;
    const lastIssued = v.lastIssued;
    const clients = v.clients;
    const messages = v.messages;
    // Absent from an older process, which has no groups.
    const memberships = v.memberships ?? 0;
    if (typeof nowMs !== 'number' || !Number.isFinite(nowMs) || nowMs <= 0) throw new StateStreamError(`BEGIN: bad nowMs ${String(nowMs)}`);
    if (!isCount(lastIssued) || lastIssued > MAX_MESSAGE_ID) throw new StateStreamError(`BEGIN: bad lastIssued ${String(lastIssued)}`);
    if (!isCount(clients) || !isCount(messages) || !isCount(memberships)) throw new StateStreamError('BEGIN: bad counts');
    this.begun = { nowMs, lastIssued, clients, messages, memberships };
    this.sink.importClock(nowMs, lastIssued);
  }

  private onClient(p: Buffer): void {
    if (this.left !== 0) throw new StateStreamError(`CLIENT while ${this.left} messages of ${this.client} are still to come`);
    const length = p.length >= 1 ? p[0]! : 0;
    if (length < 1 || length > MAX_CLIENT_ID_BYTES || p.length !== 1 + length + 4) throw new StateStreamError('CLIENT: bad length');
    const client = p.toString('latin1', 1, 1 + length);
    if (!isValidClientId(client)) throw new StateStreamError('CLIENT: not a valid client id');
    const count = p.readUInt32LE(1 + length);
    if (count === 0) throw new StateStreamError(`CLIENT ${client} with no messages`);
    if (this.got.clients === this.begun!.clients) throw new StateStreamError(`more clients than BEGIN announced (${this.begun!.clients})`);
    this.client = client;
    this.left = count;
    this.lastId = 0;
    this.got.clients++;
  }

  private onMessages(p: Buffer): void {
    const client = this.client;
    if (client === null || this.left === 0) throw new StateStreamError('MESSAGES without a CLIENT waiting for them');
    if (p.length < 4) throw new StateStreamError('MESSAGES: too short');
    const count = p.readUInt32LE(0);
    if (count === 0 || count > this.left) throw new StateStreamError(`MESSAGES: ${count} messages where ${this.left} are still to come for ${client}`);
    const ids = new Array<number>(count);
    const data = new Array<string>(count);
    const expires = new Array<number>(count);
    const { lastIssued } = this.begun!;
    let at = 4;
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      if (at + MESSAGE_HEADER_BYTES > p.length) throw new StateStreamError('MESSAGES: cut short');
      const id = p.readDoubleLE(at);
      const expiresIn = p.readDoubleLE(at + 8);
      const length = p.readUInt32LE(at + 16);
      at += MESSAGE_HEADER_BYTES;
      if (!Number.isSafeInteger(id) || id <= this.lastId || id > lastIssued) {
        throw new StateStreamError(`MESSAGES: id ${id} for ${client} is not above ${this.lastId} and at most lastIssued ${lastIssued}`);
      }
      if (!(expiresIn > 0) || !Number.isFinite(expiresIn) || (i > 0 && expiresIn < expires[i - 1]!)) {
        throw new StateStreamError(`MESSAGES: bad expiry ${expiresIn} for message ${id}`);
      }
      if (at + length > p.length) throw new StateStreamError('MESSAGES: data cut short');
      ids[i] = id;
      expires[i] = expiresIn;
      data[i] = p.toString('utf8', at, at + length);
      at += length;
      bytes += length;
      this.lastId = id;
    }
    if (at !== p.length) throw new StateStreamError('MESSAGES: bytes after the last message');
    this.left -= count;
    this.got.messages += count;
    this.got.dataBytes += bytes;
    this.sink.importQueue(client, ids, data, expires);
  }

  private onGroup(p: Buffer): void {
    if (this.left !== 0) throw new StateStreamError(`GROUP while ${this.left} messages of ${this.client} are still to come`);
    const length = p.length >= 1 ? p[0]! : 0;
    if (length < 1 || p.length < 1 + length + 4) throw new StateStreamError('GROUP: bad length');
    const group = p.toString('latin1', 1, 1 + length);
    if (!isValidGroupName(group)) throw new StateStreamError('GROUP: not a valid group name');
    const count = p.readUInt32LE(1 + length);
    if (count === 0) throw new StateStreamError(`GROUP ${group} with no members`);
    if (this.got.memberships + count > this.begun!.memberships) throw new StateStreamError(`more memberships than BEGIN announced (${this.begun!.memberships})`);
    const members = new Array<string>(count);
    let at = 1 + length + 4;
    for (let i = 0; i < count; i++) {
      const idLength = at < p.length ? p[at]! : 0;
      if (idLength < 1 || idLength > MAX_CLIENT_ID_BYTES || at + 1 + idLength > p.length) throw new StateStreamError(`GROUP ${group}: member ${i} cut short`);
      const id = p.toString('latin1', at + 1, at + 1 + idLength);
      if (!isValidClientId(id)) throw new StateStreamError(`GROUP ${group}: member ${i} is not a valid client id`);
      members[i] = id;
      at += 1 + idLength;
    }
    if (at !== p.length) throw new StateStreamError('GROUP: bytes after the last member');
    this.got.memberships += count;
    this.sink.importGroup(group, members);
  }

  private onEnd(f: Frame): void {
    if (this.left !== 0) throw new StateStreamError(`END while ${this.left} messages of ${this.client} are still to come`);
    const v = frameJson(f);
    const begun = this.begun!;
    const got = this.got;
    if (
      v.clients !== got.clients ||
      v.messages !== got.messages ||
      v.dataBytes !== got.dataBytes ||
      (v.memberships ?? 0) !== got.memberships ||
      begun.clients !== got.clients ||
      begun.messages !== got.messages ||
      begun.memberships !== got.memberships
    ) {
      throw new StateStreamError(
        `END counts ${JSON.stringify(v)} (BEGIN: ${begun.clients} clients, ${begun.messages} messages) do not match what came: ${JSON.stringify(got)}`,
      );
    }
    this.ended = true;
  }
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
