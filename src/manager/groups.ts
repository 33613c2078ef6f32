// Groups and memberships (PROTOCOL.md section 2, docs/ARCHITECTURE.md "Groups").
//
// A group is a name, its members and its log of publishes (./group-log.ts).
// A publish is stored once, in the log; each membership keeps `next`, the
// sequence number of the first publish its client has not acknowledged, so
// the client's pending publishes of that group are the log from `next` on
// (less the publishes it was full for: `skips`). Nothing is stored per member
// per publish.
//
// Memberships live in typed arrays, no object per membership:
//   per group, by position      members Int32Array (client-table entry) and
//                               nexts Uint32Array (`next`, mod 2^32)     8 B
//   a record per membership     group number, position, link (the client's
//                               next record + 1, 0 ends; the free list
//                               threads through it too), in pages       12 B
//   per client, by entry        its first record + 1 (0: no membership)  4 B
// A client's records form a list of at most MAX_GROUPS_PER_CLIENT, so every
// walk of it is short; a leave moves the group's last member into the freed
// position (its record, found on its own list, learns the new position).
//
// `next` is kept mod 2^32 and read back against the log's end. That is exact
// while no member lags the end by 2^32 publishes, which holds because every
// publish moves each member's `next` up to the log's first live entry, and
// the log holds at most one TTL's worth of publishes.
//
// Clients without a held poll are remembered in `gone` (entry -> ms since
// last seen) in insertion order: seen() moves a client to the end, so the
// sweep reads from the front and stops at the first one not due.
//
// Single-threaded: owned by the manager's thread. Entries are the manager's
// client-table entries; the manager keeps a member's entry while it has a
// membership and calls leaveAll() before it could delete one.

import { pollBody } from '../protocol/poll-body.js';
import { GroupLog } from './group-log.js';

/** Groups one client may be in at once. */
export const MAX_GROUPS_PER_CLIENT = 100;

const PAGE_BITS = 12;
const PAGE = 1 << PAGE_BITS;
const MASK = PAGE - 1;
const RECORD_WORDS = 3;
const R_GROUP = 0;
const R_POS = 1;
const R_LINK = 2;
const MIN_MEMBERS = 4;
const TWO_32 = 4294967296;

interface Group {
  readonly name: string;
  readonly number: number;
  members: Int32Array;
  nexts: Uint32Array;
  size: number;
  readonly log: GroupLog;
  /** Members that were full at a publish: entry -> the sequence numbers they did not get, increasing. */
  skips: Map<number, number[]> | null;
}

/** Messages in id order, as parallel arrays (pending publishes handed out, or collected for a delivery). */
export interface MessageList {
  ids: number[];
  data: string[];
  expires: number[];
}

/** What Groups needs from the manager at a publish. */
export interface MemberHost {
  /** Unexpired direct (not group) messages queued for the client of `entry`. */
  directQueued(entry: number, now: number): number;
  /** Answers the client's held poll with `body` (the publish `id` alone) if it has one whose cursor is below `id`. */
  deliverHeld(entry: number, id: number, body: string, now: number): void;
}

export type PublishOutcome = { queued: number; full: number };

/** Exact bytes of the typed arrays that hold memberships. */
export interface GroupsMemory {
  /** Per-group members and nexts arrays (capacity, not size). */
  byGroup: number;
  /** Membership records (pages). */
  records: number;
  /** Per-entry first-record pages. */
  heads: number;
}

export class Groups {
  private readonly byName = new Map<string, Group>();
  private readonly byNumber: Array<Group | undefined> = [];
  private readonly freeNumbers: number[] = [];
  private readonly heads: Uint32Array[] = [];
  private readonly records: Uint32Array[] = [];
  private recordsUsed = 0;
  /** First free record + 1, 0 when none. */
  private freeRecord = 0;
  private membershipCount = 0;
  /** Live publishes over every log (one per publish), and the sum of their data lengths. */
  private logMessages = 0;
  private logChars = 0;
  private readonly gone = new Map<number, number>();
  /** How long a member may go without a poll before its memberships end. */
  readonly memberTimeoutMs: number;

  constructor(memberTimeoutMs: number) {
    this.memberTimeoutMs = memberTimeoutMs;
  }

  /** Groups with at least one member. */
  get size(): number {
    return this.byName.size;
  }

  get memberships(): number {
    return this.membershipCount;
  }

  /** Whether the client of `entry` is in any group. */
  isMember(entry: number): boolean {
    const page = this.heads[entry >>> PAGE_BITS];
    return page !== undefined && page[entry & MASK] !== 0;
  }

  /** The group's member count, or -1 when no client is in it. */
  memberCount(name: string): number {
    return this.byName.get(name)?.size ?? -1;
  }

  /** Up to `limit` member entries of the group (in no set order). */
  memberEntries(name: string, limit: number): number[] {
    const group = this.byName.get(name);
    if (group === undefined) return [];
    return Array.from(group.members.subarray(0, Math.min(limit, group.size)));
  }

  /** The names of the groups of `entry` (-1: none), in no set order. */
  groupsOf(entry: number): string[] {
    const out: string[] = [];
    if (entry < 0) return out;
    for (let r = this.headOf(entry); r !== 0; r = this.word(r - 1, R_LINK)) out.push(this.byNumber[this.word(r - 1, R_GROUP)]!.name);
    return out;
  }

  /** Whether the client of `entry` (-1: a client without state) is in the group. */
  isIn(entry: number, name: string): boolean {
    const group = this.byName.get(name);
    return group !== undefined && entry >= 0 && this.recordOf(entry, group.number) >= 0;
  }

  /** Whether the client of `entry` (-1: a client without state) is in MAX_GROUPS_PER_CLIENT groups already. */
  atGroupLimit(entry: number): boolean {
    if (entry < 0) return false;
    let n = 0;
    for (let r = this.headOf(entry); r !== 0; r = this.word(r - 1, R_LINK)) n++;
    return n >= MAX_GROUPS_PER_CLIENT;
  }

  /**
   * Puts the client of `entry` in the group (made if new), receiving the
   * publishes from now on. It must not be in it, nor at the group limit.
   */
  join(entry: number, name: string, now: number): void {
    let group = this.byName.get(name);
    if (group === undefined) group = this.makeGroup(name);
    // 1.5x while small, 1.125x past 4096 members: at most 12.5% of a big group's 8 B per member is slack.
    if (group.size === group.members.length) this.resize(group, Math.ceil(group.members.length * (group.size < 4096 ? 1.5 : 1.125)));
    const pos = group.size++;
    group.members[pos] = entry;
    group.nexts[pos] = group.log.endSeq % TWO_32;
    const record = this.takeRecord();
    this.setWord(record, R_GROUP, group.number);
    this.setWord(record, R_POS, pos);
    this.setWord(record, R_LINK, this.headOf(entry));
    this.setHead(entry, record + 1);
    this.membershipCount++;
    this.seen(entry, now);
  }

  /**
   * Takes the client of `entry` out of the group (it must be in it); its
   * pending publishes of the group are appended to `out` in id order. A group
   * left empty is deleted with its log.
   */
  leave(entry: number, name: string, now: number, out: MessageList): void {
    const group = this.byName.get(name)!;
    let prev = -1;
    let r = this.headOf(entry) - 1;
    while (this.word(r, R_GROUP) !== group.number) {
      prev = r;
      r = this.word(r, R_LINK) - 1;
    }
    this.collectIn(group, this.word(r, R_POS), entry, now, out);
    const link = this.word(r, R_LINK);
    if (prev < 0) this.setHead(entry, link);
    else this.setWord(prev, R_LINK, link);
    this.removeAt(group, this.word(r, R_POS));
    this.setWord(r, R_LINK, this.freeRecord);
    this.freeRecord = r + 1;
    this.membershipCount--;
    if (this.headOf(entry) === 0) this.gone.delete(entry);
  }

  /** leave() from every group of `entry`; the pending publishes go to `out`, in id order. */
  leaveAll(entry: number, now: number, out: MessageList): void {
    const parts: MessageList = { ids: [], data: [], expires: [] };
    while (this.headOf(entry) !== 0) {
      const r = this.headOf(entry) - 1;
      this.leave(entry, this.byNumber[this.word(r, R_GROUP)]!.name, now, parts);
    }
    appendSorted(parts, out);
  }

  /** The client of `entry` polled (or joined): its memberships last from now. */
  seen(entry: number, now: number): void {
    this.gone.delete(entry);
    this.gone.set(entry, now);
  }

  /**
   * The members whose last poll (or join) is memberTimeoutMs old or more and
   * whose poll is not held now: the caller ends their memberships (leaveAll).
   * Held members count as seen now.
   */
  takeGone(now: number, isHeld: (entry: number) => boolean): number[] {
    const due: number[] = [];
    for (const [entry, at] of this.gone) {
      if (at + this.memberTimeoutMs > now) break;
      this.gone.delete(entry);
      if (isHeld(entry)) this.gone.set(entry, now);
      else due.push(entry);
    }
    return due;
  }

  /** Drops the expired publishes of every group's log; returns how many (one per publish). */
  expire(now: number): number {
    let n = 0;
    for (const group of this.byName.values()) n += this.trim(group, now);
    return n;
  }

  /**
   * Ends the pending state of every membership (the takeover's export): each
   * member's pending publishes of each group are handed to `each` (in id
   * order, one call per membership that has some) and count as delivered to
   * its queue; memberships stay.
   */
  drainAll(now: number, each: (entry: number, list: MessageList) => void): void {
    for (const group of this.byName.values()) {
      for (let pos = 0; pos < group.size; pos++) {
        const list: MessageList = { ids: [], data: [], expires: [] };
        this.collectIn(group, pos, group.members[pos]!, now, list);
        group.nexts[pos] = group.log.endSeq % TWO_32;
        if (list.ids.length > 0) each(group.members[pos]!, list);
      }
      group.skips = null;
    }
  }

  /** Unacknowledged, unexpired publishes for the client of `entry` over all its groups. */
  pending(entry: number, now: number): number {
    let n = 0;
    for (let r = this.headOf(entry); r !== 0; r = this.word(r - 1, R_LINK)) {
      const group = this.byNumber[this.word(r - 1, R_GROUP)]!;
      this.trim(group, now);
      n += this.pendingIn(group, this.word(r - 1, R_POS), entry);
    }
    return n;
  }

  /** A poll of the client of `entry` with cursor `since`: every publish with id <= since is acknowledged. */
  acknowledge(entry: number, since: number): void {
    for (let r = this.headOf(entry); r !== 0; r = this.word(r - 1, R_LINK)) {
      const group = this.byNumber[this.word(r - 1, R_GROUP)]!;
      const pos = this.word(r - 1, R_POS);
      const after = group.log.seqAfter(since);
      if (after > this.nextOf(group, pos)) group.nexts[pos] = after % TWO_32;
      if (group.skips !== null) this.pruneSkips(group, entry, after);
    }
  }

  /** Appends the pending publishes of the client of `entry`, over all its groups, to `out` (each group's in id order). */
  collect(entry: number, now: number, out: MessageList): void {
    for (let r = this.headOf(entry); r !== 0; r = this.word(r - 1, R_LINK)) {
      this.collectIn(this.byNumber[this.word(r - 1, R_GROUP)]!, this.word(r - 1, R_POS), entry, now, out);
    }
  }

  /** Whether a group of that name has a member. */
  has(name: string): boolean {
    return this.byName.has(name);
  }

  /**
   * Publishes `data` as message `id` to every member of the group (which must
   * exist): each member whose queue (direct messages and pending publishes)
   * is below `maxQueue` gets it, a held poll at once (one body, built once),
   * the others on their next poll; the rest are counted as full and never get
   * it. Stored once, only if some member got it.
   */
  publish(name: string, id: number, data: string, expiresAt: number, now: number, maxQueue: number, host: MemberHost): PublishOutcome {
    const group = this.byName.get(name)!;
    const log = group.log;
    this.trim(group, now);
    const seq = log.endSeq;
    const first = log.firstSeq;
    const body = pollBody(id, data);
    let queued = 0;
    let full: number[] | null = null;
    for (let pos = 0; pos < group.size; pos++) {
      const entry = group.members[pos]!;
      // Keeps every `next` within the log (see the file comment on mod 2^32).
      if (this.nextOf(group, pos) < first) group.nexts[pos] = first % TWO_32;
      const queuedNow = host.directQueued(entry, now) + this.pending(entry, now);
      if (queuedNow >= maxQueue) {
        (full ??= []).push(entry);
        continue;
      }
      queued++;
      host.deliverHeld(entry, id, body, now);
    }
    if (queued > 0) {
      log.push(id, data, expiresAt);
      this.logMessages++;
      this.logChars += data.length;
      if (full !== null) {
        const skips = (group.skips ??= new Map());
        for (const entry of full) {
          const list = skips.get(entry);
          if (list === undefined) skips.set(entry, [seq]);
          else list.push(seq);
        }
      }
    }
    return { queued, full: full === null ? 0 : full.length };
  }

  /** Live publishes over all logs (one per publish, not per member), and their data lengths. */
  logTotals(): { messages: number; dataChars: number } {
    return { messages: this.logMessages, dataChars: this.logChars };
  }

  /** Exact bytes of the typed arrays that hold memberships. */
  memory(): GroupsMemory {
    let byGroup = 0;
    for (const group of this.byName.values()) byGroup += group.members.byteLength + group.nexts.byteLength;
    return {
      byGroup,
      records: this.records.length * PAGE * RECORD_WORDS * Uint32Array.BYTES_PER_ELEMENT,
      heads: this.heads.length * PAGE * Uint32Array.BYTES_PER_ELEMENT,
    };
  }

  private makeGroup(name: string): Group {
    const number = this.freeNumbers.pop() ?? this.byNumber.length;
    const group: Group = {
      name,
      number,
      members: new Int32Array(MIN_MEMBERS),
      nexts: new Uint32Array(MIN_MEMBERS),
      size: 0,
      log: new GroupLog(),
      skips: null,
    };
    this.byNumber[number] = group;
    this.byName.set(name, group);
    return group;
  }

  /** Removes the member at `pos`: the last member moves there. Deletes the group when it empties. */
  private removeAt(group: Group, pos: number): void {
    const entry = group.members[pos]!;
    if (group.skips !== null) {
      group.skips.delete(entry);
      if (group.skips.size === 0) group.skips = null;
    }
    const last = --group.size;
    if (pos !== last) {
      const moved = group.members[last]!;
      group.members[pos] = moved;
      group.nexts[pos] = group.nexts[last]!;
      this.setWord(this.recordOf(moved, group.number), R_POS, pos);
    }
    if (group.size === 0) {
      this.logMessages -= group.log.length;
      this.logChars -= group.log.dataChars;
      this.byName.delete(group.name);
      this.byNumber[group.number] = undefined;
      this.freeNumbers.push(group.number);
    } else if (group.size * 4 < group.members.length && group.members.length > MIN_MEMBERS) {
      this.resize(group, Math.max(MIN_MEMBERS, group.size * 2));
    }
  }

  private resize(group: Group, capacity: number): void {
    const members = new Int32Array(capacity);
    members.set(group.members.subarray(0, group.size));
    const nexts = new Uint32Array(capacity);
    nexts.set(group.nexts.subarray(0, group.size));
    group.members = members;
    group.nexts = nexts;
  }

  /** `next` of the member at `pos`, as a full sequence number. */
  private nextOf(group: Group, pos: number): number {
    const end = group.log.endSeq;
    return end - ((end % TWO_32) - group.nexts[pos]! + TWO_32) % TWO_32;
  }

  private pendingIn(group: Group, pos: number, entry: number): number {
    const log = group.log;
    const start = Math.max(this.nextOf(group, pos), log.firstSeq);
    let n = log.endSeq - start;
    const skipped = group.skips?.get(entry);
    if (skipped !== undefined) for (const seq of skipped) if (seq >= start) n--;
    return n;
  }

  private collectIn(group: Group, pos: number, entry: number, now: number, out: MessageList): void {
    const log = group.log;
    this.trim(group, now);
    const skipped = group.skips?.get(entry);
    for (let seq = Math.max(this.nextOf(group, pos), log.firstSeq); seq < log.endSeq; seq++) {
      if (skipped !== undefined && skipped.includes(seq)) continue;
      out.ids.push(log.idAt(seq));
      out.data.push(log.dataAt(seq));
      out.expires.push(log.expiresAt(seq));
    }
  }

  /** Drops the group's expired publishes, keeping the totals; returns how many. */
  private trim(group: Group, now: number): number {
    const chars = group.log.dataChars;
    const n = group.log.dropExpired(now);
    if (n !== 0) {
      this.logMessages -= n;
      this.logChars -= chars - group.log.dataChars;
    }
    return n;
  }

  private pruneSkips(group: Group, entry: number, after: number): void {
    const skipped = group.skips!.get(entry);
    if (skipped === undefined) return;
    let i = 0;
    while (i < skipped.length && skipped[i]! < after) i++;
    if (i === skipped.length) {
      group.skips!.delete(entry);
      if (group.skips!.size === 0) group.skips = null;
    } else if (i > 0) {
      skipped.splice(0, i);
    }
  }

  /** The record (index) of the membership of `entry` in group `number`, or -1. */
  private recordOf(entry: number, number: number): number {
    for (let r = this.headOf(entry); r !== 0; r = this.word(r - 1, R_LINK)) if (this.word(r - 1, R_GROUP) === number) return r - 1;
    return -1;
  }

  private headOf(entry: number): number {
    const page = this.heads[entry >>> PAGE_BITS];
    return page === undefined ? 0 : page[entry & MASK]!;
  }

  private setHead(entry: number, value: number): void {
    const page = entry >>> PAGE_BITS;
    while (this.heads.length <= page) this.heads.push(new Uint32Array(PAGE));
    this.heads[page]![entry & MASK] = value;
  }

  private takeRecord(): number {
    if (this.freeRecord !== 0) {
      const r = this.freeRecord - 1;
      this.freeRecord = this.word(r, R_LINK);
      return r;
    }
    const r = this.recordsUsed++;
    if (r >>> PAGE_BITS >= this.records.length) this.records.push(new Uint32Array(PAGE * RECORD_WORDS));
    return r;
  }

  private word(record: number, field: number): number {
    return this.records[record >>> PAGE_BITS]![(record & MASK) * RECORD_WORDS + field]!;
  }

  private setWord(record: number, field: number, value: number): void {
    this.records[record >>> PAGE_BITS]![(record & MASK) * RECORD_WORDS + field] = value;
  }
}

/** Appends `parts` (several id-ordered runs) to `out` in id order. */
export function appendSorted(parts: MessageList, out: MessageList): void {
  const order = Array.from(parts.ids.keys()).sort((a, b) => parts.ids[a]! - parts.ids[b]!);
  for (const i of order) {
    out.ids.push(parts.ids[i]!);
    out.data.push(parts.data[i]!);
    out.expires.push(parts.expires[i]!);
  }
}
