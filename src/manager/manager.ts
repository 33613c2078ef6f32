// Routing between apps and held polls, in one thread: which worker holds each
// client's poll, each client's unacknowledged messages, ids and TTL.
//
// A client with state has one entry in the client table (./client-table.ts):
// an integer that indexes everything else about it. Its states:
//   idle       no held poll, no messages: no entry at all
//   held       a poll is held: HeldPolls has (worker, handle) for the entry
//              (typed arrays; no object, no string on the heap)
//   queued     messages wait to be acknowledged: `queues` maps the entry to
//              its ClientQueue (few clients at a time have one)
//   member     in a group (./groups.ts): the membership keeps the entry between
//              polls; its pending publishes stay in the group's log, merged
//              with its queue at delivery (docs/ARCHITECTURE.md, "Groups")
// A client is normally never held and queued at once: a poll with messages
// after its cursor is answered at once instead of held, and a send to a held
// poll answers it. (Both happen only for a cursor above every id issued, which
// PROTOCOL.md says waits until ids pass it; such a cursor is the one the
// manager keeps, in `futureCursors`.)
//
// The cursor of a held poll stays with its worker, which needs it for the
// empty answer at the poll's timeout: releasing an older poll asks its worker
// to answer it empty (WorkerPort.release). The manager needs the cursor only
// to tell whether a new message is after it, and that is so for every id
// still to be issued unless the cursor was above the last one issued when the
// poll came: those few cursors are kept.
//
// Delivered messages stay queued until a later poll's cursor acknowledges them
// or they expire, so a delivery lost in transit (the poll vanished, the
// response never arrived) costs nothing: the next poll gets them again.

import { ClientQueue } from './client-queue.js';
import { hashIdBytes, hashIdString } from '../protocol/client-id-hash.js';
import { ClientTable, type ClientTableMemory } from './client-table.js';
import type { ManagerStats } from '../protocol/stats.js';
import { ExpiryBuckets } from './expiry-buckets.js';
import { HeldPolls, MAX_WORKERS } from './held-polls.js';
import { IdCounter } from './id-counter.js';
import { LatencyHistogram } from './latency-histogram.js';
import { CLIENT_BYTES, GROUP_BYTES, GROUP_MESSAGE_BYTES, MEMBERSHIP_BYTES, MESSAGE_BYTES, QUEUE_BYTES } from './memory-budget.js';
import { Groups, type MemberHost, type MessageList } from './groups.js';
import { memberBody } from './member-body.js';
import type { GroupState, ManagerState, QueueState } from './manager-state.js';
import { deliverBacklog, deliverEvent, deliverList } from './stream-delivery.js';
import type { WorkerPort, WorkerRecordHandler } from './worker-port.js';
import { PollIntake, type InboundSource } from './poll-intake.js';

export interface ManagerOptions {
  /** How long a message waits for its client, from the send, in ms. */
  ttlMs: number;
  /** Unacknowledged, unexpired messages a client may have; the next send is refused. */
  maxQueue: number;
  /**
   * Clock in ms since the Unix epoch. By default a monotonic clock anchored at
   * the wall time of process start (performance.timeOrigin + performance.now()),
   * not Date.now: a wall clock stepped back would stretch TTLs and make ids
   * pause, stepped forward it would expire messages early. Tests inject one.
   */
  now?: () => number;
  /**
   * Largest delivery body, in UTF-8 bytes. A poll gets the messages that fit
   * and the rest on its next poll (its cursor moves past the ones it got).
   * Must be at least the largest single message plus 48 bytes; the ring
   * between the manager and a worker bounds it (see src/server.ts).
   */
  maxDeliveryBytes?: number;
  /**
   * Blocks the thread for `ms`: used only when ids run a whole lead (1 s) ahead
   * of the clock (src/manager/id-counter.ts). Tests inject one that moves their clock.
   */
  sleep?: (ms: number) => void;
  /** Clients to make room for before the client table's index first grows (it grows by 1.5x as needed). */
  initialClients?: number;
  /**
   * The board the workers read to tell which POLLs must wake this thread
   * (src/ring/prompt-board.ts); without it (tests), every record wakes it.
   */
  promptBoard?: SharedArrayBuffer;
  /**
   * Bytes of queued messages and per-client state the manager may hold
   * (--max-memory); a send that would pass it is refused with memory_full.
   * Default: no limit. See ./memory-budget.ts for what is counted.
   */
  maxMemory?: number;
  /**
   * How long a group member may go without a held poll before its
   * memberships end (docs/ARCHITECTURE.md, "Groups"). Default: ttlMs.
   */
  memberTimeoutMs?: number;
}

/** Default for ManagerOptions.maxDeliveryBytes. */
export const DEFAULT_MAX_DELIVERY_BYTES = 768 * 1024;

/**
 * A refused send; nothing was queued. queue_full: `client`'s queue is at
 * maxQueue; memory_full: the memory budget is used up. The app layer words it.
 */
export type SendRefused = { ok: false; code: 'queue_full' | 'memory_full'; client: string };
export type SendResult = { ok: true; id: number } | SendRefused;
export type SendManyResult = { ok: true; ids: number[] } | SendRefused;

/** join(): `members` is the group's member count after it; refused: nothing changed. */
export type JoinResult = { ok: true; members: number } | { ok: false; code: 'too_many_groups' | 'memory_full'; client: string };
/** leave(): `members` is the group's member count after it (0: the group is gone); refused: nothing changed. */
export type LeaveResult = { ok: true; members: number } | { ok: false; code: 'unknown_group' } | { ok: false; code: 'not_member'; client: string };
/** publish(): queued for `queued` members, refused for `full` members whose queue was at maxQueue. */
export type PublishResult = { ok: true; id: number; queued: number; full: number } | { ok: false; code: 'unknown_group' | 'memory_full' };

/** What sendOne() answers instead of an id when the client's queue is full. */
export const REFUSED_QUEUE_FULL = 0;
/** What sendOne() answers instead of an id when the memory budget is used up. */
export const REFUSED_MEMORY_FULL = -1;

const TICK_MS = 1000;
const SPARE_QUEUES = 1024;

/** What roomyEntry() answers for a client with no entry. */
const ABSENT = -1;
/** What roomyEntry() answers for a client whose queue is at maxQueue. */
const FULL = -2;

/** The manager's exact typed-array bytes, by part (for the memory tests and docs). */
export interface ManagerMemory {
  table: ClientTableMemory;
  held: { byEntry: number; bySlot: number };
}

export class Manager implements WorkerRecordHandler {
  private readonly ttlMs: number;
  private readonly maxDeliveryBytes: number;
  /** Unacknowledged messages a client may have (--max-queue). */
  readonly maxQueue: number;
  /** Replaced once by importClock() when the old process's clock was ahead. */
  private now: () => number;
  private readonly workers: readonly WorkerPort[];
  /** Every client that is held or queued (see the file comment). */
  private readonly table: ClientTable;
  private readonly held = new HeldPolls();
  /** The queue of each queued client, by entry. */
  private readonly queues = new Map<number, ClientQueue>();
  /** The cursor of each held poll whose cursor was above every id issued when it came, by entry. */
  private readonly futureCursors = new Map<number, number>();
  private readonly expiry = new ExpiryBuckets();
  private readonly ids: IdCounter;
  private readonly sleep: (ms: number) => void;
  /** Emptied queues kept for reuse (at most SPARE_QUEUES). */
  private readonly spareQueues: ClientQueue[] = [];
  private queuedCount = 0;
  /** Sum of every queue's dataChars. */
  private queuedDataChars = 0;
  private readonly maxMemory: number;
  private readonly groups: Groups;
  /** What Groups asks of the manager at a publish. */
  private readonly memberHost: MemberHost;
  /** Scratch for a member's delivery (./member-body.ts), emptied after each use. */
  private readonly memberList: MessageList = { ids: [], data: [], expires: [] };
  private refusedMemory = 0;
  private readonly intake: PollIntake;
  private sent = 0;
  private delivered = 0;
  private expired = 0;
  private refused = 0;
  private timer: NodeJS.Timeout | null = null;
  /**
   * Accept-to-delivery latency: for each message written into a delivery
   * body (as often as `delivered` counts it), the time since the manager
   * accepted it. 0 for a message sent to a held poll.
   */
  readonly deliveryLatency = new LatencyHistogram();

  constructor(options: ManagerOptions, workers: readonly WorkerPort[]) {
    if (!(options.ttlMs > 0)) throw new RangeError(`ttlMs must be a positive number of milliseconds, got ${options.ttlMs}`);
    if (!Number.isInteger(options.maxQueue) || options.maxQueue < 1) {
      throw new RangeError(`maxQueue must be a positive integer, got ${options.maxQueue}`);
    }
    if (workers.length > MAX_WORKERS) throw new RangeError(`at most ${MAX_WORKERS} workers, got ${workers.length}`);
    this.ttlMs = options.ttlMs;
    this.maxDeliveryBytes = options.maxDeliveryBytes ?? DEFAULT_MAX_DELIVERY_BYTES;
    this.maxQueue = options.maxQueue;
    this.now = options.now ?? monotonicNow;
    this.sleep = options.sleep ?? sleepThread;
    this.ids = new IdCounter(this.now());
    this.workers = workers;
    this.table = new ClientTable(options.initialClients ?? 0);
    this.maxMemory = options.maxMemory ?? Infinity;
    if (!(this.maxMemory > 0)) throw new RangeError(`maxMemory must be a positive number of bytes, got ${options.maxMemory}`);
    this.groups = new Groups(options.memberTimeoutMs ?? this.ttlMs);
    this.intake = new PollIntake(options.promptBoard, () => this.groups.memberships !== 0);
    this.memberHost = {
      directQueued: (entry, now) => {
        const queue = this.queues.size === 0 ? undefined : this.queues.get(entry);
        if (queue === undefined) return 0;
        this.dropExpired(queue, now);
        if (queue.length === 0) this.dropQueue(queue);
        return queue.length;
      },
      deliverHeld: (entry, id, data, body) => {
        if (!this.held.isHeld(entry)) return;
        const cursor = this.futureCursors.size === 0 ? undefined : this.futureCursors.get(entry);
        if (cursor !== undefined && id <= cursor) return;
        const worker = this.held.workerOf(entry);
        const handle = this.held.handleOf(entry);
        this.delivered++;
        if (this.held.isStream(entry)) {
          // A stream stays held; the publish stays pending until a reconnect's cursor passes it.
          deliverEvent(id, data, this.deliveryLatency, this.workers[worker]!, handle);
          return;
        }
        this.unhold(entry);
        this.deliveryLatency.observe(0);
        this.workers[worker]!.deliver(handle, body);
      },
      streaming: (entry) => this.held.hasStream(entry),
    };
  }

  /**
   * Worker `worker` holds a poll of `client` as `handle`, with cursor `since`.
   * Releases the client's older held poll (its worker answers it empty, with
   * its own cursor), acknowledges every message <= since, then answers at once
   * if messages wait, or remembers the poll.
   */
  onPoll(worker: number, handle: number, client: string, since: number, stream = false): void {
    const hash = hashIdString(client);
    let entry = this.table.findString(hash, client);
    if (entry < 0) entry = this.table.addString(hash, client);
    this.poll(entry, worker, handle, since, stream);
  }

  /** onPoll() with the client id as the ASCII bytes `bytes[start, start + length)` (a ring record), read only during the call. */
  onPollBytes(worker: number, handle: number, since: number, bytes: Uint8Array, start: number, length: number, stream = false): void {
    const hash = hashIdBytes(bytes, start, length);
    let entry = this.table.findBytes(hash, bytes, start, length);
    if (entry < 0) entry = this.table.addBytes(hash, bytes, start, length);
    this.poll(entry, worker, handle, since, stream);
  }

  /** The held poll `handle` on `worker` ended without a delivery; ignored unless it is still a client's held poll. */
  onGone(worker: number, handle: number): void {
    const entry = this.held.entryAt(worker, handle);
    if (entry >= 0) this.endPoll(entry);
  }

  /** Queues `data` (a JSON value's text, forwarded byte for byte) for `client`, delivering it at once to a held poll. */
  send(client: string, data: string): SendResult {
    const id = this.sendOne(client, data);
    if (id > 0) return { ok: true, id };
    return { ok: false, code: id === REFUSED_QUEUE_FULL ? 'queue_full' : 'memory_full', client };
  }

  /**
   * send() without a result object: the message id, or REFUSED_QUEUE_FULL /
   * REFUSED_MEMORY_FULL (nothing was queued).
   */
  sendOne(client: string, data: string): number {
    this.intake.sync();
    const now = this.now();
    const hash = hashIdString(client);
    const entry = this.roomyEntry(client, hash, now);
    if (entry === FULL) {
      this.refused++;
      return REFUSED_QUEUE_FULL;
    }
    if (this.memoryUsed() + this.costOf(entry, data) > this.maxMemory) {
      this.refused++;
      this.refusedMemory++;
      return REFUSED_MEMORY_FULL;
    }
    return this.accept(client, hash, data, now, entry);
  }

  /** send() to each of `clients` (distinct), all or nothing: ids in the order of `clients`. */
  sendMany(clients: readonly string[], data: string): SendManyResult {
    this.intake.sync();
    const now = this.now();
    // Entries found now stay valid below: only a client's own send or poll removes its entry.
    const entries = new Array<number>(clients.length);
    for (let i = 0; i < clients.length; i++) {
      const client = clients[i]!;
      const entry = this.roomyEntry(client, hashIdString(client), now);
      if (entry === FULL) {
        this.refused += clients.length;
        return { ok: false, code: 'queue_full', client };
      }
      entries[i] = entry;
    }
    let cost = 0;
    for (const entry of entries) cost += this.costOf(entry, data);
    if (this.memoryUsed() + cost > this.maxMemory) {
      this.refused += clients.length;
      this.refusedMemory += clients.length;
      return { ok: false, code: 'memory_full', client: clients[0]! };
    }
    const ids = new Array<number>(clients.length);
    for (let i = 0; i < clients.length; i++) {
      const client = clients[i]!;
      const entry = entries[i]!;
      ids[i] = this.accept(client, entry === ABSENT ? hashIdString(client) : 0, data, now, entry);
    }
    return { ok: true, ids };
  }

  status(client: string): { connected: boolean; queued: number } {
    this.intake.sync();
    const entry = this.table.findString(hashIdString(client), client);
    if (entry < 0) return { connected: false, queued: 0 };
    const connected = this.held.isHeld(entry);
    const queue = this.queues.get(entry);
    let queued = 0;
    if (queue !== undefined) {
      this.dropExpired(queue, this.now());
      queued = queue.length;
      if (queued === 0) this.dropQueue(queue);
    }
    if (this.groups.isMember(entry)) queued += this.groups.pending(entry, this.now());
    return { connected, queued };
  }

  stats(): ManagerStats {
    this.intake.sync();
    return {
      clients: this.table.size,
      held_polls: this.held.size,
      queued: this.queuedCount,
      sent: this.sent,
      delivered: this.delivered,
      expired: this.expired,
      refused: this.refused,
      refused_queue_full: this.refused - this.refusedMemory,
      refused_memory_full: this.refusedMemory,
      refused_store_unavailable: 0,
      memory_used: this.memoryUsed(),
      memory_budget: this.maxMemory === Infinity ? 0 : this.maxMemory,
      groups: this.groups.size,
      memberships: this.groups.memberships,
      group_messages: this.groups.logMessageCount,
    };
  }

  /** --max-memory in bytes (Infinity: none). */
  get memoryBudget(): number {
    return this.maxMemory;
  }

  /** Sum of the queued messages' data lengths (UTF-16 units, one per byte of ASCII JSON), one per recipient. */
  queuedDataSize(): number {
    return this.queuedDataChars;
  }

  /** Bytes the budget counts now (./memory-budget.ts). */
  memoryUsed(): number {
    return (
      this.queuedDataChars +
      this.queuedCount * MESSAGE_BYTES +
      this.queues.size * QUEUE_BYTES +
      this.table.size * CLIENT_BYTES +
      this.groups.logDataChars +
      this.groups.logMessageCount * GROUP_MESSAGE_BYTES +
      this.groups.memberships * MEMBERSHIP_BYTES +
      this.groups.size * GROUP_BYTES
    );
  }

  /** Drops expired messages of the queues whose oldest message is due; start() calls it every second. */
  expire(): void {
    this.intake.sync();
    const now = this.now();
    for (const queue of this.expiry.takeDue(now)) {
      this.dropExpired(queue, now);
      if (queue.length === 0) this.dropQueue(queue);
      else this.expiry.file(queue);
    }
    this.groups.expire(now);
    for (const entry of this.groups.takeGone(now, (e) => this.held.isHeld(e))) this.endMemberships(entry, now);
  }

  /** Every held poll (a listing for tools and tests; it walks every entry ever used). */
  heldPolls(): Array<{ client: string; worker: number; handle: number }> {
    this.intake.sync();
    const out: Array<{ client: string; worker: number; handle: number }> = [];
    this.held.forEach((entry, worker, handle) => out.push({ client: this.table.idOf(entry), worker, handle }));
    return out;
  }

  /** Exact bytes of the manager's per-client typed arrays (queues and Maps of the few queued clients not included). */
  memory(): ManagerMemory {
    return { table: this.table.memory(), held: this.held.memory() };
  }

  /**
   * Takeover (src/takeover/): the clock, the id counter and every queued
   * client's unexpired messages, as they are now. The arrays are copies (the
   * data strings are shared), so the manager may go on acknowledging and
   * expiring meanwhile; it must take no more sends, or they are not in it.
   */
  exportState(): ManagerState {
    this.intake.sync();
    const now = this.now();
    // Each member's pending publishes go to its queue first: they travel as queued messages, the memberships as groups.
    this.groups.drainAll(now, (entry, list) => this.adopt(entry, list));
    const queues: QueueState[] = [];
    const emptied: ClientQueue[] = [];
    for (const queue of this.queues.values()) {
      this.dropExpired(queue, now);
      if (queue.length === 0) {
        emptied.push(queue);
        continue;
      }
      const { ids, data, expires } = queue.snapshot();
      for (let i = 0; i < expires.length; i++) expires[i] = expires[i]! - now;
      queues.push({ client: this.table.idOf(queue.entry), ids, data, expiresInMs: expires });
    }
    for (const queue of emptied) this.dropQueue(queue);
    const groups: GroupState[] = [];
    for (const { group, members } of this.groups.allMembers()) {
      groups.push({ group, members: Array.from(members, (entry) => this.table.idOf(entry)) });
    }
    return { nowMs: now, lastIssued: this.ids.lastIssued, queues, groups };
  }

  /**
   * Takeover: adopts the old manager's id counter, so every id issued here is
   * above its ids, and its clock where it was ahead of this one (each process
   * anchors its monotonic clock at the wall time of its own start; a clock
   * moved up keeps ids following it without a pause, and is never moved
   * back). Call once, before importQueue() and before any poll or send.
   * Returns the old clock minus this one's, ms, for the log.
   */
  importClock(sourceNowMs: number, lastIssued: number): number {
    if (this.sent !== 0 || this.held.size !== 0 || this.queues.size !== 0) {
      throw new Error('importClock: this manager has already served polls or sends');
    }
    const ahead = sourceNowMs - this.now();
    if (ahead > 0) {
      const base = this.now;
      this.now = () => base() + ahead;
    }
    this.ids.advanceTo(lastIssued);
    return ahead;
  }

  /**
   * Takeover: appends messages to `client`'s queue (made if it has none),
   * each expiring `expiresInMs` from now. Ids must be increasing and above
   * the client's queued ones (src/takeover/state-stream.ts checks them).
   * They were accepted by the old process: they are not counted as sent and
   * not refused for --max-queue or --max-memory.
   */
  importQueue(client: string, ids: readonly number[], data: readonly string[], expiresInMs: readonly number[]): void {
    if (ids.length === 0) return;
    const now = this.now();
    const hash = hashIdString(client);
    let entry = this.table.findString(hash, client);
    if (entry < 0) entry = this.table.addString(hash, client);
    const queue = this.unfiledQueue(entry);
    for (let i = 0; i < ids.length; i++) {
      queue.push(ids[i]!, data[i]!, now + expiresInMs[i]!);
      this.queuedDataChars += data[i]!.length;
    }
    this.queuedCount += ids.length;
    this.expiry.file(queue);
    this.intake.queuedUpTo(hash, ids[ids.length - 1]!);
  }

  /**
   * Takeover: puts `members` in `group` (after importClock()). They were
   * members in the old process: no limit or budget applies, one already in
   * the group stays, and each membership's timeout starts now. Its pending
   * publishes came as queued messages (importQueue()).
   */
  importGroup(group: string, members: readonly string[]): void {
    const now = this.now();
    for (const client of members) {
      const hash = hashIdString(client);
      let entry = this.table.findString(hash, client);
      if (entry < 0) entry = this.table.addString(hash, client);
      if (!this.groups.isIn(entry, group)) this.groups.join(entry, group, now);
    }
    this.intake.membersChanged();
  }

  /** Writes every delivery held back until the end of the task now (./worker-port.ts BatchedDeliveries). */
  flushDeliveries(): void {
    for (const port of this.workers) port.flush?.();
  }

  /**
   * The workers' rings, read outside this thread's wake-ups: before each
   * operation that depends on them and after each task that changed the
   * prompt board (./poll-intake.ts). Call once, after starting each source.
   */
  takeInFrom(sources: readonly InboundSource[]): void {
    this.intake.attach(sources);
  }

  /** Starts the expiry tick; it does not keep the process alive. */
  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.expire(), TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * Puts each of `clients` (distinct) in `group`, all or nothing: refused if
   * one is in MAX_GROUPS_PER_CLIENT groups already, or for the memory budget.
   * A client already in the group stays as it was.
   */
  join(clients: readonly string[], group: string): JoinResult {
    this.intake.sync();
    const now = this.now();
    let fresh = 0;
    let cost = this.groups.has(group) ? 0 : GROUP_BYTES;
    const entries = new Array<number>(clients.length);
    for (let i = 0; i < clients.length; i++) {
      const entry = this.table.findString(hashIdString(clients[i]!), clients[i]!);
      entries[i] = entry;
      if (this.groups.isIn(entry, group)) continue;
      if (this.groups.atGroupLimit(entry)) return { ok: false, code: 'too_many_groups', client: clients[i]! };
      cost += MEMBERSHIP_BYTES + (entry < 0 ? CLIENT_BYTES : 0);
      fresh++;
    }
    if (fresh > 0 && this.memoryUsed() + cost > this.maxMemory) return { ok: false, code: 'memory_full', client: clients[0]! };
    for (let i = 0; i < clients.length; i++) {
      let entry = entries[i]!;
      if (this.groups.isIn(entry, group)) continue;
      if (entry < 0) entry = this.table.addString(hashIdString(clients[i]!), clients[i]!);
      this.groups.join(entry, group, now);
      if (this.held.isHeld(entry)) this.groups.present(entry);
    }
    this.intake.membersChanged();
    return { ok: true, members: this.groups.memberCount(group) };
  }

  /**
   * Takes each of `clients` (distinct) out of `group`, all or nothing: the
   * group must exist and each must be in it. A client's pending publishes of
   * the group stay queued for it (a publish reaches the members at the moment
   * it is accepted).
   */
  leave(clients: readonly string[], group: string): LeaveResult {
    this.intake.sync();
    if (!this.groups.has(group)) return { ok: false, code: 'unknown_group' };
    const entries = new Array<number>(clients.length);
    for (let i = 0; i < clients.length; i++) {
      const entry = this.table.findString(hashIdString(clients[i]!), clients[i]!);
      if (!this.groups.isIn(entry, group)) return { ok: false, code: 'not_member', client: clients[i]! };
      entries[i] = entry;
    }
    const now = this.now();
    for (const entry of entries) {
      const list: MessageList = { ids: [], data: [], expires: [] };
      this.groups.leave(entry, group, now, list);
      this.adopt(entry, list);
      this.forgetIfIdle(entry);
    }
    this.intake.membersChanged();
    return { ok: true, members: Math.max(0, this.groups.memberCount(group)) };
  }

  /** Queues `data` once for every member of `group` under one id, delivering it at once to held polls. */
  publish(group: string, data: string): PublishResult {
    this.intake.sync();
    if (!this.groups.has(group)) return { ok: false, code: 'unknown_group' };
    const now = this.now();
    if (this.memoryUsed() + data.length + GROUP_MESSAGE_BYTES > this.maxMemory) {
      const members = this.groups.memberCount(group);
      this.refused += members;
      this.refusedMemory += members;
      return { ok: false, code: 'memory_full' };
    }
    const id = this.nextId(now);
    const { queued, full } = this.groups.publish(group, id, data, now + this.ttlMs, now, this.maxQueue, this.memberHost);
    this.sent += queued;
    this.refused += full;
    return { ok: true, id, queued, full };
  }

  /** The group's member count and up to `limit` of its members' ids, or null when no client is in it. */
  group(group: string, limit: number): { members: number; clients: string[] } | null {
    this.intake.sync();
    const members = this.groups.memberCount(group);
    if (members < 0) return null;
    return { members, clients: this.groups.memberEntries(group, limit).map((entry) => this.table.idOf(entry)) };
  }

  /** The groups `client` is in. */
  groupsOf(client: string): string[] {
    this.intake.sync();
    return this.groups.groupsOf(this.table.findString(hashIdString(client), client));
  }

  /** Exact bytes of the typed arrays that hold memberships (for the memory tests and docs). */
  groupMemory(): ReturnType<Groups['memory']> {
    return this.groups.memory();
  }

  /**
   * A poll of a group member: acknowledges its publishes <= since and, if any
   * are pending, answers with them merged by id with its direct messages (a
   * stream: writes them all as events and holds it). Returns false when no
   * publish is pending (the direct queue's path goes on).
   */
  private pollMember(entry: number, worker: number, handle: number, since: number, stream: boolean): boolean {
    const now = this.now();
    this.groups.seen(entry, now);
    this.groups.acknowledge(entry, since);
    const list = this.memberList;
    this.groups.collect(entry, now, list);
    if (list.ids.length === 0) return false;
    const queue = this.queues.size === 0 ? undefined : this.queues.get(entry);
    if (queue !== undefined) {
      this.acknowledge(queue, since);
      this.dropExpired(queue, now);
      queue.appendAfter(since, list);
      if (queue.length === 0) {
        this.queues.delete(entry);
        this.recycle(queue);
      }
    }
    if (stream) {
      // The whole backlog goes out as events, then the stream stays held (./stream-delivery.ts).
      this.delivered += deliverList(list, this.maxDeliveryBytes, this.deliveryLatency, now + this.ttlMs, this.workers[worker]!, handle);
      list.ids.length = 0;
      list.data.length = 0;
      list.expires.length = 0;
      this.hold(entry, worker, handle, since, true);
      return true;
    }
    const out = memberBody(list, this.maxDeliveryBytes, this.deliveryLatency, now + this.ttlMs)!;
    list.ids.length = 0;
    list.data.length = 0;
    list.expires.length = 0;
    this.delivered += out.count;
    this.workers[worker]!.deliver(handle, out.body);
    return true;
  }

  /** Ends every membership of a client gone for memberTimeoutMs; its pending publishes stay queued for it. */
  private endMemberships(entry: number, now: number): void {
    const list: MessageList = { ids: [], data: [], expires: [] };
    this.groups.leaveAll(entry, now, list);
    this.adopt(entry, list);
    this.forgetIfIdle(entry);
  }

  /** The client's queue (a spare one taken into use if it has none), out of the expiry buckets until the caller files it again. */
  private unfiledQueue(entry: number): ClientQueue {
    let queue = this.queues.get(entry);
    if (queue === undefined) {
      queue = this.spareQueues.pop() ?? new ClientQueue();
      queue.entry = entry;
      this.queues.set(entry, queue);
    } else {
      this.expiry.unfile(queue);
    }
    return queue;
  }

  /** Merges a membership's pending publishes (id order) into the client's queue; not counted as sent again. */
  private adopt(entry: number, list: MessageList): void {
    if (list.ids.length === 0) return;
    const queue = this.unfiledQueue(entry);
    const chars = queue.dataChars;
    queue.mergeIn(list);
    this.intake.queuedUpTo(this.table.hashOf(entry), queue.lastId);
    this.queuedCount += list.ids.length;
    this.queuedDataChars += queue.dataChars - chars;
    this.expiry.file(queue);
  }

  /** Deletes the client's entry if nothing keeps it: no held poll, no queue, no membership. */
  private forgetIfIdle(entry: number): void {
    if (this.held.isHeld(entry) || this.groups.isMember(entry) || this.queues.has(entry)) return;
    this.table.delete(entry);
  }

  /** A poll (or with `stream`, an event stream: ./stream-delivery.ts) of the client of `entry` (just added, or known). */
  private poll(entry: number, worker: number, handle: number, since: number, stream: boolean): void {
    if (this.held.isHeld(entry)) {
      const oldWorker = this.held.workerOf(entry);
      const oldHandle = this.held.handleOf(entry);
      this.unhold(entry);
      if (oldWorker !== worker || oldHandle !== handle) this.workers[oldWorker]!.release(oldHandle);
    }
    // A connection has one request outstanding at a time, so a poll on this
    // engine slot means the slot's older poll ended, even if its GONE has not
    // come (it always comes first from a real worker: this guards the table).
    const stale = this.held.entryOnSlot(worker, handle);
    if (stale >= 0) this.endPoll(stale);
    if (this.groups.isMember(entry) && this.pollMember(entry, worker, handle, since, stream)) return;
    const queue = this.queues.size === 0 ? undefined : this.queues.get(entry);
    if (queue !== undefined) {
      this.acknowledge(queue, since);
      const now = this.now();
      this.dropExpired(queue, now);
      // Everything left is after `since`. The queue stays filed under its old
      // oldest message's second, which is no later than the new one's: the
      // sweep then just files it again, cheaper than refiling on every poll.
      if (stream) {
        const count = deliverBacklog(queue, since, this.maxDeliveryBytes, this.deliveryLatency, now + this.ttlMs, this.workers[worker]!, handle);
        this.delivered += count;
        if (count === 0) {
          this.queues.delete(entry);
          this.recycle(queue);
        }
      } else {
        const out = queue.bodyAfter(since, this.maxDeliveryBytes, this.deliveryLatency, now + this.ttlMs);
        if (out !== null) {
          this.delivered += out.count;
          this.workers[worker]!.deliver(handle, out.body);
          return;
        }
        this.queues.delete(entry);
        this.recycle(queue);
      }
    }
    this.hold(entry, worker, handle, since, stream);
  }

  /** Remembers the poll (or stream) of `entry` as its held one, with its cursor if it is ahead of every id. */
  private hold(entry: number, worker: number, handle: number, since: number, stream: boolean): void {
    this.held.hold(entry, worker, handle, stream);
    this.intake.held(this.table.hashOf(entry));
    if (this.groups.isMember(entry)) this.groups.present(entry);
    if (since > this.ids.lastIssued) this.futureCursors.set(entry, since);
  }

  /** Forgets the held poll of `entry`. */
  private unhold(entry: number): void {
    this.held.release(entry);
    this.intake.released(this.table.hashOf(entry));
    if (this.futureCursors.size !== 0) this.futureCursors.delete(entry);
    // A member's memberships last memberTimeoutMs from the end of its last held poll.
    if (this.groups.isMember(entry)) this.groups.seen(entry, this.now());
  }

  /** The held poll of `entry` ended without a delivery: forgets it, and the client too unless messages wait. */
  private endPoll(entry: number): void {
    this.unhold(entry);
    if (!this.groups.isMember(entry) && (this.queues.size === 0 || !this.queues.has(entry))) this.table.delete(entry);
  }

  /**
   * The client's entry after dropping expired messages (an emptied queue is
   * dropped, leaving the held poll's entry or nothing): ABSENT when it has
   * none, FULL when its queue is at maxQueue.
   */
  private roomyEntry(client: string, hash: number, now: number): number {
    const entry = this.table.findString(hash, client);
    if (entry < 0) return ABSENT;
    const queue = this.queues.size === 0 ? undefined : this.queues.get(entry);
    let queued = 0;
    if (queue !== undefined) {
      this.dropExpired(queue, now);
      if (queue.length !== 0) queued = queue.length;
      else if (this.dropQueue(queue) === ABSENT) return ABSENT;
    }
    // A client with an open stream has received everything queued for it (./stream-delivery.ts).
    if (this.held.hasStream(entry)) return entry;
    // A member's pending publishes count towards its --max-queue like its direct messages.
    if (this.groups.isMember(entry)) queued += this.groups.pending(entry, now);
    return queued >= this.maxQueue ? FULL : entry;
  }

  /** Bytes one more message costs the budget for `entry` (ABSENT: a client without state yet). */
  private costOf(entry: number, data: string): number {
    let cost = data.length + MESSAGE_BYTES;
    if (entry === ABSENT) cost += CLIENT_BYTES + QUEUE_BYTES;
    else if (this.queues.size === 0 || !this.queues.has(entry)) cost += QUEUE_BYTES;
    return cost;
  }

  /**
   * Queues one message (room was checked; `entry` is the client's, or ABSENT,
   * then `hash` is the client's hash) and answers the client's held poll with it.
   */
  private accept(client: string, hash: number, data: string, now: number, entry: number): number {
    const id = this.nextId(now);
    let queue = entry === ABSENT ? undefined : this.queues.get(entry);
    if (queue !== undefined) {
      queue.push(id, data, now + this.ttlMs);
    } else {
      if (entry === ABSENT) entry = this.table.addString(hash, client);
      queue = this.spareQueues.pop() ?? new ClientQueue();
      queue.entry = entry;
      queue.push(id, data, now + this.ttlMs);
      this.queues.set(entry, queue);
      this.expiry.file(queue);
    }
    this.sent++;
    this.queuedCount++;
    this.queuedDataChars += data.length;
    this.intake.queued(this.table.hashOf(entry), id);
    if (this.held.isHeld(entry)) {
      // Without a kept cursor, the poll's cursor is below every id issued since it came.
      const cursor = this.futureCursors.size === 0 ? undefined : this.futureCursors.get(entry);
      if ((cursor === undefined || id > cursor) && this.held.isStream(entry)) {
        this.delivered++;
        deliverEvent(id, data, this.deliveryLatency, this.workers[this.held.workerOf(entry)]!, this.held.handleOf(entry));
      } else if (cursor === undefined || id > cursor) {
        const out = queue.bodyAfter(cursor ?? 0, this.maxDeliveryBytes, this.deliveryLatency, now + this.ttlMs)!;
        const worker = this.held.workerOf(entry);
        const handle = this.held.handleOf(entry);
        this.unhold(entry);
        this.delivered += out.count;
        this.workers[worker]!.deliver(handle, out.body);
      }
    }
    return id;
  }

  /**
   * The next message id. Only a burst of over a million ids in a second finds
   * the counter a whole lead ahead of the clock; this thread then waits for
   * the clock, which throttles the sender instead of risking an id below one
   * issued before a restart.
   */
  private nextId(now: number): number {
    let id = this.ids.next(now);
    while (id === 0) {
      // `now` may be stale (one send to many clients shares it): look at the clock first.
      const fresh = this.now();
      id = this.ids.next(fresh);
      if (id === 0) this.sleep(this.ids.msUntilRoom(fresh));
    }
    return id;
  }

  private dropExpired(queue: ClientQueue, now: number): void {
    const chars = queue.dataChars;
    const n = queue.dropExpired(now);
    this.expired += n;
    this.queuedCount -= n;
    this.queuedDataChars -= chars - queue.dataChars;
  }

  private acknowledge(queue: ClientQueue, since: number): void {
    const chars = queue.dataChars;
    this.queuedCount -= queue.acknowledge(since);
    this.queuedDataChars -= chars - queue.dataChars;
  }

  /** Forgets an empty queue, and the client unless its poll is held. Returns the client's entry, or ABSENT. */
  private dropQueue(queue: ClientQueue): number {
    const entry = queue.entry;
    this.queues.delete(entry);
    this.recycle(queue);
    if (this.held.isHeld(entry) || this.groups.isMember(entry)) return entry;
    this.table.delete(entry);
    return ABSENT;
  }

  /** Unfiles an empty queue and keeps it for reuse; the caller has taken it out of `queues`. */
  private recycle(queue: ClientQueue): void {
    this.expiry.unfile(queue);
    queue.entry = -1;
    // Most queues live for one message (sent, delivered, acknowledged): reusing them spares the collector.
    if (this.spareQueues.length < SPARE_QUEUES) this.spareQueues.push(queue);
  }
}

const TIME_ORIGIN = performance.timeOrigin;

function monotonicNow(): number {
  return TIME_ORIGIN + performance.now();
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Blocks this thread for `ms` (Node allows Atomics.wait on its main thread). */
function sleepThread(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}
