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
//   per client, by entry        two words, A and B                       8 B
//     A = 0                       no membership
//     A = group + 1 (< 2^31)      one membership, inline: B is its position
//     A = LIST + record + 1       several: a list of records, B unused
//   a record (several only)     group number, position, link (the next
//                               record + 1, 0 ends; the free list threads
//                               through it too), in pages               12 B
// So a client in one group costs 16 B for it, one in k groups 20k + 8. A
// client's list is at most MAX_GROUPS_PER_CLIENT long, so every walk of it is
// short; a leave moves the group's last member into the freed position (its
// membership, found on its own list, learns the new position). A location is
// INLINE (the entry's own words) or a record index.
//
// `next` is kept mod 2^32 and read back against the log's end. That is exact
// while no member lags the end by 2^32 publishes, which holds because every
// publish moves each member's `next` up to the log's first live entry, and
// the log holds at most one TTL's worth of publishes.
//
// Members are remembered in `gone` (entry -> the second they were last
// seen, counted from this object's first use so that it stays a small
// integer: about 37 B of heap per entry, 53 with a boxed double) in insertion
// order: seen() moves a client to the end, so the sweep reads from the front
// and stops at the first one not due. A member whose poll is held is not in
// it (present()), and enters it when that poll ends or is answered, so it
// holds the members between polls and the gone ones.
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
/** Marks A as the head of a record list. */
const LIST = 0x80000000;
/** Locations of a membership: the entry's inline words, or a record index (>= 0). */
const INLINE = -1;
const NONE = -2;
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
  /**
   * Hands the publish `id` (`data`; `body` is its poll body, built once) to the client's held
   * poll or open stream, if it has one whose cursor is below `id`.
   */
  deliverHeld(entry: number, id: number, data: string, body: string, now: number): void;
  /** Whether the client has an open event stream: it has received everything pending, so --max-queue does not hold it back. */
  streaming(entry: number): boolean;
}

export type PublishOutcome = { queued: number; full: number };

/** Exact bytes of the typed arrays that hold memberships. */
export interface GroupsMemory {
  /** Per-group members and nexts arrays (capacity, not size). */
  byGroup: number;
  /** Membership records (pages). */
  records: number;
  /** Per-entry words (A, B) pages. */
  heads: number;
  /** Members without a held poll, each an entry of the `gone` Map (about 37 B of heap each). */
  unheld: number;
}

export class Groups {
  private readonly byName = new Map<string, Group>();
  private readonly byNumber: Array<Group | undefined> = [];
  private readonly freeNumbers: number[] = [];
  /** Pages by entry of the words A and B (see the file comment). */
  private readonly headA: Uint32Array[] = [];
  private readonly headB: Uint32Array[] = [];
  private readonly records: Uint32Array[] = [];
  private recordsUsed = 0;
  /** First free record + 1, 0 when none. */
  private freeRecord = 0;
  private membershipCount = 0;
  /** Live publishes over every log (one per publish), and the sum of their data lengths. */
  private logMessages = 0;
  private logChars = 0;
  private readonly gone = new Map<number, number>();
  /** The second `gone` counts from (the first seen()), NaN before. */
  private originSecond = NaN;
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
    const page = this.headA[entry >>> PAGE_BITS];
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
    for (let loc = this.first(entry); loc !== NONE; loc = this.next(loc)) out.push(this.byNumber[this.groupAt(entry, loc)]!.name);
    return out;
  }

  /** Whether the client of `entry` (-1: a client without state) is in the group. */
  isIn(entry: number, name: string): boolean {
    const group = this.byName.get(name);
    return group !== undefined && entry >= 0 && this.locate(entry, group.number) !== NONE;
  }

  /** Whether the client of `entry` (-1: a client without state) is in MAX_GROUPS_PER_CLIENT groups already. */
  atGroupLimit(entry: number): boolean {
    if (entry < 0) return false;
    let n = 0;
    for (let loc = this.first(entry); loc !== NONE; loc = this.next(loc)) n++;
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
    const a = this.wordA(entry);
    if (a === 0) {
      this.setA(entry, group.number + 1);
      this.setB(entry, pos);
    } else {
      let head = a - LIST;
      if (a < LIST) {
        // A second membership: the inline one moves to a record.
        const moved = this.takeRecord();
        this.setWord(moved, R_GROUP, a - 1);
        this.setWord(moved, R_POS, this.wordB(entry));
        this.setWord(moved, R_LINK, 0);
        head = moved + 1;
      }
      const record = this.takeRecord();
      this.setWord(record, R_GROUP, group.number);
      this.setWord(record, R_POS, pos);
      this.setWord(record, R_LINK, head);
      this.setA(entry, LIST + record + 1);
      this.setB(entry, 0);
    }
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
    let prev = NONE;
    let loc = this.first(entry);
    while (this.groupAt(entry, loc) !== group.number) {
      prev = loc;
      loc = this.next(loc);
    }
    const pos = this.posAt(entry, loc);
    this.collectIn(group, pos, entry, now, out);
    if (loc === INLINE) {
      this.setA(entry, 0);
    } else {
      const link = this.word(loc, R_LINK);
      if (prev === NONE) this.setA(entry, link === 0 ? 0 : LIST + link);
      else this.setWord(prev, R_LINK, link);
      this.freeRecordAt(loc);
      // Down to one membership: it moves back inline.
      const head = this.wordA(entry) - LIST - 1;
      if (head >= 0 && this.word(head, R_LINK) === 0) {
        this.setA(entry, this.word(head, R_GROUP) + 1);
        this.setB(entry, this.word(head, R_POS));
        this.freeRecordAt(head);
      }
    }
    this.removeAt(group, pos);
    this.membershipCount--;
    if (this.wordA(entry) === 0) this.gone.delete(entry);
  }

  /** leave() from every group of `entry`; the pending publishes go to `out`, in id order. */
  leaveAll(entry: number, now: number, out: MessageList): void {
    const parts: MessageList = { ids: [], data: [], expires: [] };
    while (this.wordA(entry) !== 0) this.leave(entry, this.byNumber[this.groupAt(entry, this.first(entry))]!.name, now, parts);
    appendSorted(parts, out);
  }

  /** The client of `entry` has a held poll now: its memberships last while it does. */
  present(entry: number): void {
    this.gone.delete(entry);
  }

  /** The client of `entry` has no held poll from now (its poll ended or was answered, or it joined): its memberships last memberTimeoutMs from now. */
  seen(entry: number, now: number): void {
    this.gone.delete(entry);
    // Rounded up, and the sweep's clock down: a membership never ends early.
    this.gone.set(entry, this.second(Math.ceil(now / 1000)));
  }

  /** `second` (since the epoch) counted from the first one seen. */
  private second(second: number): number {
    if (Number.isNaN(this.originSecond)) this.originSecond = second;
    return second - this.originSecond;
  }

  /**
   * The members whose last poll (or join) is memberTimeoutMs old or more and
   * whose poll is not held now: the caller ends their memberships (leaveAll).
   * Held members count as seen now.
   */
  takeGone(now: number, isHeld: (entry: number) => boolean): number[] {
    // isHeld guards the bookkeeping: the manager takes a held member out of `gone` (present()).
    const due: number[] = [];
    // Seconds are whole: a membership may outlast its timeout by up to a second (and the sweep's period).
    const nowSecond = this.second(Math.floor(now / 1000));
    const timeout = Math.ceil(this.memberTimeoutMs / 1000);
    for (const [entry, at] of this.gone) {
      if (at + timeout > nowSecond) break;
      this.gone.delete(entry);
      if (isHeld(entry)) this.gone.set(entry, nowSecond + 1);
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
    for (let loc = this.first(entry); loc !== NONE; loc = this.next(loc)) {
      const group = this.byNumber[this.groupAt(entry, loc)]!;
      this.trim(group, now);
      n += this.pendingIn(group, this.posAt(entry, loc), entry);
    }
    return n;
  }

  /** A poll of the client of `entry` with cursor `since`: every publish with id <= since is acknowledged. */
  acknowledge(entry: number, since: number): void {
    for (let loc = this.first(entry); loc !== NONE; loc = this.next(loc)) {
      const group = this.byNumber[this.groupAt(entry, loc)]!;
      const pos = this.posAt(entry, loc);
      const after = group.log.seqAfter(since);
      if (after > this.nextOf(group, pos)) group.nexts[pos] = after % TWO_32;
      if (group.skips !== null) this.pruneSkips(group, entry, after);
    }
  }

  /** Appends the pending publishes of the client of `entry`, over all its groups, to `out` (each group's in id order). */
  collect(entry: number, now: number, out: MessageList): void {
    for (let loc = this.first(entry); loc !== NONE; loc = this.next(loc)) {
      this.collectIn(this.byNumber[this.groupAt(entry, loc)]!, this.posAt(entry, loc), entry, now, out);
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
      const queuedNow = host.streaming(entry) ? 0 : host.directQueued(entry, now) + this.pending(entry, now);
      if (queuedNow >= maxQueue) {
        (full ??= []).push(entry);
        continue;
      }
      queued++;
      host.deliverHeld(entry, id, data, body, now);
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

  /** Every group's name and member entries (the takeover's export). */
  *allMembers(): Generator<{ group: string; members: Int32Array }> {
    for (const group of this.byName.values()) yield { group: group.name, members: group.members.subarray(0, group.size) };
  }

  /** Live publishes over all logs (one per publish, not per member). */
  get logMessageCount(): number {
    return this.logMessages;
  }

  /** Sum of the data lengths (UTF-16 units) of the live publishes, each counted once. */
  get logDataChars(): number {
    return this.logChars;
  }

  /** Exact bytes of the typed arrays that hold memberships. */
  memory(): GroupsMemory {
    let byGroup = 0;
    for (const group of this.byName.values()) byGroup += group.members.byteLength + group.nexts.byteLength;
    return {
      byGroup,
      records: this.records.length * PAGE * RECORD_WORDS * Uint32Array.BYTES_PER_ELEMENT,
      heads: this.headA.length * PAGE * 2 * Uint32Array.BYTES_PER_ELEMENT,
      unheld: this.gone.size,
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
      this.setPosAt(moved, this.locate(moved, group.number), pos);
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

  /** Where the membership of `entry` in group `number` is, or NONE. */
  private locate(entry: number, number: number): number {
    for (let loc = this.first(entry); loc !== NONE; loc = this.next(loc)) if (this.groupAt(entry, loc) === number) return loc;
    return NONE;
  }

  /** The location of the first membership of `entry`, or NONE. */
  private first(entry: number): number {
    const a = this.wordA(entry);
    if (a === 0) return NONE;
    return a < LIST ? INLINE : a - LIST - 1;
  }

  /** The location after `loc` on its client's list, or NONE. */
  private next(loc: number): number {
    if (loc === INLINE) return NONE;
    const link = this.word(loc, R_LINK);
    return link === 0 ? NONE : link - 1;
  }

  private groupAt(entry: number, loc: number): number {
    return loc === INLINE ? this.wordA(entry) - 1 : this.word(loc, R_GROUP);
  }

  private posAt(entry: number, loc: number): number {
    return loc === INLINE ? this.wordB(entry) : this.word(loc, R_POS);
  }

  private setPosAt(entry: number, loc: number, pos: number): void {
    if (loc === INLINE) this.setB(entry, pos);
    else this.setWord(loc, R_POS, pos);
  }

  private wordA(entry: number): number {
    const page = this.headA[entry >>> PAGE_BITS];
    return page === undefined ? 0 : page[entry & MASK]!;
  }

  private wordB(entry: number): number {
    return this.headB[entry >>> PAGE_BITS]![entry & MASK]!;
  }

  private setA(entry: number, value: number): void {
    const page = entry >>> PAGE_BITS;
    while (this.headA.length <= page) {
      this.headA.push(new Uint32Array(PAGE));
      this.headB.push(new Uint32Array(PAGE));
    }
    this.headA[page]![entry & MASK] = value;
  }

  private setB(entry: number, value: number): void {
    this.headB[entry >>> PAGE_BITS]![entry & MASK] = value;
  }

  private freeRecordAt(record: number): void {
    this.setWord(record, R_LINK, this.freeRecord);
    this.freeRecord = record + 1;
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
