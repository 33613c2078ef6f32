// Routing with --redis (docs/ARCHITECTURE.md, "Many nodes on Redis"): the
// queues live in Redis (./redis-store.ts), shared by every node; this node
// keeps only its own held polls and the clients that may have messages.
//
// A poll reads Redis (one mc_poll: acknowledge up to its cursor, read after
// it) unless this node is sure the client has nothing queued: it heard no
// notification for it within ttl + 1 s, and it has been subscribed without
// a break for at least that long. A poll that finds nothing is held; a
// notification for a held client reads its stream again. A notification that
// comes while a read of the same client is in flight makes it read once more
// after that read, so a message is never left behind by the race between the
// reply and the notification.
//
// A client whose last read returned everything after its cursor (no
// notification came meanwhile) is "drained" up to the last id delivered: its
// next poll with exactly that cursor has nothing to read, so it is held
// without a round trip, and its acknowledgement joins one mc_ack call per
// event-loop turn. Any later notification of the client ends that.
//
// A held poll "knows" its client has nothing after its cursor when it was
// held after a complete read (or a drained re-poll, or a client no node
// notified): notifications come in the order Redis ran the sends, so the next
// one above the cursor is the next message, and when it carries the data the
// poll is answered from it without a read. A break in the subscription ends
// every poll's knowledge.
//
// When Redis is unreachable: sends are refused with store_unavailable, polls
// are held (their timeout answers them empty), and when the connections come
// back every held poll reads its stream again, since notifications were missed.

import type { AppBackend, BackendReply, BackendRequest } from '../manager/app-backend.js';
import { errorJson, queueFull } from '../manager/app-reply.js';
import type { MessageList } from '../manager/groups.js';
import { LatencyHistogram } from '../manager/latency-histogram.js';
import { memberBody } from '../manager/member-body.js';
import { deliverList } from '../manager/stream-delivery.js';
import type { WorkerPort, WorkerRecordHandler } from '../manager/worker-port.js';
import type { AppError } from '../protocol/errors.js';
import { pollBody } from '../protocol/poll-body.js';
import { sseEvent } from '../protocol/sse.js';
import type { ManagerStats } from '../protocol/stats.js';
import { log } from '../log.js';
import { RedisStore, StoreError, type StoredMessage } from './redis-store.js';
import { parseRedisUrl } from './redis-url.js';

export interface RedisRouterOptions {
  /** --redis. */
  url: string;
  ttlMs: number;
  maxQueue: number;
  /** Largest delivery body, in UTF-8 bytes (the manager's maxDeliveryBytes). */
  maxDeliveryBytes: number;
  /** --redis-wait: replicas a send must reach before its ok. */
  waitReplicas?: number;
  /** Wall clock, ms: Redis issues ids from its own clock, and the latency of a delivery is measured against it. */
  now?: () => number;
}

/** Messages one read takes at most; a poll gets the ones that fit its body, a stream reads on. */
const READ_LIMIT = 1000;
/** Clients this node remembers as "may have messages" at most; past it, every poll reads Redis until it shrinks. */
const MAX_MAYBE_QUEUED = 1_000_000;
/** Held polls re-read per step after a reconnection, so a million of them do not queue a million calls at once. */
const REREAD_STEP = 5000;
const SWEEP_MS = 1000;

/** One held poll (or event stream) on this node. */
class HeldPoll {
  reading = false;
  /** Nothing is queued after `after` except what notifications will announce (see the file comment). */
  known = false;
  /** A notification came while a read was in flight: read again after it. */
  again = false;
  constructor(
    readonly client: string,
    readonly worker: number,
    readonly handle: number,
    /** Messages after this go to it: the poll's since; for a stream, the last id written on it. */
    public after: number,
    /** The cursor the client came with: everything up to it is acknowledged. */
    readonly ack: number,
    readonly stream: boolean,
  ) {}
}

/**
 * A refusal of a send to clients of several Redis Cluster slots after some slots queued it: the
 * reply says which (PROTOCOL.md section 4), as "ids" in the order of "clients", 0 for not queued.
 * `why`: what refused the rest.
 */
function partialRefusal(code: AppError['code'], why: string, ids: readonly number[]): string {
  const message = `${why}; in Redis Cluster a send to clients of several slots is not all or nothing: "ids" says which clients it was queued for (0: not queued)`;
  return `${errorJson({ code, message }).slice(0, -1)},"ids":[${ids.join(',')}]}`;
}

export class RedisRouter implements WorkerRecordHandler, AppBackend {
  private readonly store: RedisStore;
  private readonly ttlMs: number;
  private readonly maxQueue: number;
  private readonly maxDeliveryBytes: number;
  private readonly now: () => number;
  /** The held poll of each client held here. */
  private readonly held = new Map<string, HeldPoll>();
  /** The same, by worker and handle (for GONE). */
  private readonly bySlot: Array<Map<number, HeldPoll>>;
  /** Clients that may have messages queued, with the time until which; oldest first (a refresh moves one to the end). */
  private readonly maybeQueued = new Map<string, number>();
  /** Clients whose whole queue after this id was delivered by this node, with no notification since (see the file comment). */
  private readonly drained = new Map<string, number>();
  /** Acknowledgements waiting for the end of this event-loop turn: client -> cursor. */
  private acks = new Map<string, number>();
  private acksScheduled = false;
  /** Held polls whose last read failed (Redis unreachable), to read again when the commands reconnect. */
  private failedReads = new Set<HeldPoll>();
  /** Whether the subscription to the notifications is in place. */
  private subscribed = false;
  /**
   * Counts the breaks in what notifications can tell (subscription lost or made, cluster topology
   * changed): a read concludes "nothing more is queued" only if no break came while it was out.
   */
  private epoch = 0;
  /** From when the set above may be trusted; Infinity while not subscribed. */
  private trustedFrom = Infinity;
  private timer: NodeJS.Timeout | null = null;
  private rereading = false;
  private sent = 0;
  private delivered = 0;
  private refused = 0;
  private refusedFull = 0;
  private refusedMemory = 0;
  private refusedUnavailable = 0;
  /** Send time to delivery, per message written into a delivery (the id carries the send time). */
  readonly deliveryLatency = new LatencyHistogram();

  constructor(
    options: RedisRouterOptions,
    private readonly workers: readonly WorkerPort[],
  ) {
    this.ttlMs = options.ttlMs;
    this.maxQueue = options.maxQueue;
    this.maxDeliveryBytes = options.maxDeliveryBytes;
    this.now = options.now ?? Date.now;
    const target = parseRedisUrl(options.url);
    if (typeof target === 'string') throw new RangeError(`--redis ${JSON.stringify(options.url)}: ${target}`);
    this.bySlot = workers.map(() => new Map<number, HeldPoll>());
    this.store = new RedisStore(
      { target, ttlMs: options.ttlMs, maxQueue: options.maxQueue, waitReplicas: options.waitReplicas ?? 0 },
      {
        notified: (client, id, data) => this.onNotified(client, id, data),
        listening: () => {
          this.subscribed = true;
          this.epoch++;
          this.trustedFrom = this.now() + this.ttlMs + 1000;
          void this.rereadHeld();
        },
        deaf: () => {
          this.subscribed = false;
          this.trustedFrom = Infinity;
          this.forgetWhatNotificationsSaid();
        },
        commandsReady: () => this.retryFailedReads(),
        topologyChanged: () => {
          // A shard may have failed over, losing notifications while this node stayed subscribed.
          this.forgetWhatNotificationsSaid();
          this.trustedFrom = this.now() + this.ttlMs + 1000;
          void this.rereadHeld();
        },
      },
    );
  }

  /** Redis, as logs may name it (no password). */
  get where(): string {
    return this.store.where;
  }

  /** Notifications are being (or were) missed: nothing this node concluded from their absence holds. */
  private forgetWhatNotificationsSaid(): void {
    this.epoch++;
    this.drained.clear();
    for (const poll of this.held.values()) poll.known = false;
  }

  /** Connects to Redis; rejects with what to do when it cannot. */
  async connect(): Promise<void> {
    await this.store.start();
  }

  /** Starts the sweep of the maybe-queued set; it does not keep the process alive. */
  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Closes the Redis connections (after stop(), at shutdown). */
  close(): void {
    this.stop();
    this.store.close();
  }

  // ---- polls (WorkerRecordHandler) ----

  onPollBytes(worker: number, handle: number, since: number, bytes: Uint8Array, start: number, length: number, stream: boolean): void {
    const client = Buffer.from(bytes.buffer, bytes.byteOffset + start, length).toString('latin1');
    const older = this.held.get(client);
    if (older !== undefined) {
      this.forget(older);
      if (older.worker !== worker || older.handle !== handle) this.workers[older.worker]!.release(older.handle);
    }
    // One request per connection: a poll on this slot means its older poll ended, even if its GONE is still to come.
    const stale = this.bySlot[worker]!.get(handle);
    if (stale !== undefined) this.forget(stale);
    const poll = new HeldPoll(client, worker, handle, since, since, stream);
    this.held.set(client, poll);
    this.bySlot[worker]!.set(handle, poll);
    if (this.drained.size !== 0 && this.drained.get(client) === since) {
      // Everything up to `since` was delivered here and nothing came since: only the acknowledgement is left.
      this.drained.delete(client);
      this.acknowledgeLater(client, since);
      poll.known = true;
      return;
    }
    if (this.mayHaveMessages(client)) void this.read(poll);
    else poll.known = true;
  }

  private acknowledgeLater(client: string, cursor: number): void {
    this.acks.set(client, Math.max(cursor, this.acks.get(client) ?? 0));
    if (this.acksScheduled) return;
    this.acksScheduled = true;
    setImmediate(() => this.flushAcks());
  }

  /** One mc_ack for the turn's acknowledgements; a failed one only leaves messages to expire or to the next read's trim. */
  private flushAcks(): void {
    this.acksScheduled = false;
    const acks = this.acks;
    this.acks = new Map();
    this.store.acknowledge([...acks.keys()], [...acks.values()]).catch(() => undefined);
  }

  onGone(worker: number, handle: number): void {
    const poll = this.bySlot[worker]!.get(handle);
    if (poll !== undefined) this.forget(poll);
  }

  private forget(poll: HeldPoll): void {
    if (this.held.get(poll.client) === poll) this.held.delete(poll.client);
    const slots = this.bySlot[poll.worker]!;
    if (slots.get(poll.handle) === poll) slots.delete(poll.handle);
  }

  private isHeld(poll: HeldPoll): boolean {
    return this.held.get(poll.client) === poll;
  }

  /** False only when this node would have heard of a message for `client` queued within its TTL. */
  private mayHaveMessages(client: string): boolean {
    const now = this.now();
    if (now < this.trustedFrom) return true;
    const until = this.maybeQueued.get(client);
    return until !== undefined && until > now;
  }

  private onNotified(client: string, id: number, data: string | undefined): void {
    this.markMaybeQueued(client);
    if (this.drained.size !== 0) {
      const to = this.drained.get(client);
      // A message above what was delivered: the next poll must read.
      if (to !== undefined && id > to) this.drained.delete(client);
    }
    const poll = this.held.get(client);
    if (poll === undefined || id <= poll.after) return;
    if (poll.reading) poll.again = true;
    else if (poll.known && data !== undefined) this.deliverNotified(poll, id, data);
    else void this.read(poll);
  }

  /** The message the notification carries is the next one after the poll's cursor: answer with it. */
  private deliverNotified(poll: HeldPoll, id: number, data: string): void {
    const port = this.workers[poll.worker]!;
    this.delivered++;
    this.deliveryLatency.observe(Math.max(0, this.now() - id / 1000));
    if (poll.stream) {
      port.deliver(poll.handle, sseEvent(id, data));
      poll.after = id;
      return;
    }
    this.forget(poll);
    port.deliver(poll.handle, pollBody(id, data));
    this.drained.set(poll.client, id);
  }

  private markMaybeQueued(client: string): void {
    if (this.drained.size >= MAX_MAYBE_QUEUED) this.drained.clear();
    if (this.maybeQueued.size >= MAX_MAYBE_QUEUED && !this.maybeQueued.has(client)) {
      // Too many to remember: trust nothing until those remembered have expired.
      this.trustedFrom = Math.max(this.trustedFrom, this.now() + this.ttlMs + 1000);
      return;
    }
    this.maybeQueued.delete(client);
    this.maybeQueued.set(client, this.now() + this.ttlMs + 1000);
  }

  /** Reads the stream of a held poll; answers it if anything is there, else leaves it held. Settles when the read is done. */
  private read(poll: HeldPoll): Promise<void> {
    poll.reading = true;
    poll.again = false;
    poll.known = false;
    // Unsubscribed, a read proves nothing about what comes next: -1 never matches.
    const epoch = this.subscribed ? this.epoch : -1;
    return this.store.poll(poll.client, poll.ack, poll.after, READ_LIMIT).then(
      (messages) => this.onRead(poll, messages, epoch === this.epoch),
      (err: unknown) => {
        poll.reading = false;
        // The poll stays held: its timeout answers it, or the commands' reconnection reads it again.
        this.failedReads.add(poll);
        if (!(err instanceof StoreError)) log(`reading the queue of ${poll.client} failed: ${(err as Error).stack ?? String(err)}`);
      },
    );
  }

  /** `listened`: the subscription was in place, without a break, for the whole read. */
  private onRead(poll: HeldPoll, messages: StoredMessage[], listened: boolean): void {
    poll.reading = false;
    if (!this.isHeld(poll)) return;
    if (messages.length === 0) {
      if (poll.again) void this.read(poll);
      else poll.known = listened;
      return;
    }
    this.markMaybeQueued(poll.client);
    const now = this.now();
    const list: MessageList = { ids: [], data: [], expires: [] };
    for (const message of messages) {
      list.ids.push(message.id);
      list.data.push(message.data);
      // Ids are the send time in ms * 1000: the latency of each is measured from it.
      list.expires.push(message.id / 1000 + this.ttlMs);
    }
    const port = this.workers[poll.worker]!;
    if (poll.stream) {
      this.delivered += deliverList(list, this.maxDeliveryBytes, this.deliveryLatency, now + this.ttlMs, port, poll.handle);
      poll.after = messages[messages.length - 1]!.id;
      if (poll.again || messages.length === READ_LIMIT) void this.read(poll);
      else poll.known = listened;
      return;
    }
    const out = memberBody(list, this.maxDeliveryBytes, this.deliveryLatency, now + this.ttlMs)!;
    this.forget(poll);
    this.delivered += out.count;
    port.deliver(poll.handle, out.body);
    // The read saw the whole rest of the queue and no notification came during it: the next poll
    // with this answer's cursor needs no read (unless a notification comes first).
    if (listened && !poll.again && out.count === messages.length && messages.length < READ_LIMIT) {
      this.drained.set(poll.client, messages[messages.length - 1]!.id);
    }
  }

  /**
   * The command connection is back: the polls whose read failed read again (a break of the
   * subscription, which makes every held poll read, is rereadHeld's).
   */
  private retryFailedReads(): void {
    const failed = this.failedReads;
    this.failedReads = new Set();
    for (const poll of failed) if (this.isHeld(poll) && !poll.reading) void this.read(poll);
  }

  /** After a reconnection: every held poll reads its stream, since notifications may have been missed. */
  private async rereadHeld(): Promise<void> {
    if (this.rereading) return;
    this.rereading = true;
    try {
      let step: Promise<void>[] = [];
      for (const poll of [...this.held.values()]) {
        if (!this.isHeld(poll)) continue;
        if (poll.reading) {
          poll.again = true;
          continue;
        }
        step.push(this.read(poll));
        if (step.length >= REREAD_STEP) {
          await Promise.all(step);
          step = [];
        }
      }
    } finally {
      this.rereading = false;
    }
  }

  /** Forgets the clients whose last notification is older than ttl + 1 s (the front of the map is the oldest). */
  private sweep(): void {
    const now = this.now();
    for (const [client, until] of this.maybeQueued) {
      if (until > now) break;
      this.maybeQueued.delete(client);
    }
    // A drained client outside the set has had no notification for ttl + 1 s: its next poll reads nothing anyway.
    for (const client of this.drained.keys()) if (!this.maybeQueued.has(client)) this.drained.delete(client);
  }

  // ---- app requests (AppBackend) ----

  perform(request: BackendRequest): Promise<BackendReply> | BackendReply {
    switch (request.op) {
      case 'send':
        return this.send([request.client], request.data, false);
      case 'sendMany':
        return this.send(request.clients, request.data, true);
      case 'status':
        return this.status(request.client);
      case 'join':
      case 'leave':
      case 'publish':
      case 'group':
        return errorJson({
          code: 'unsupported',
          message: `${request.op} is not available with --redis yet: groups are not shared between nodes; send to the members' ids instead`,
        });
    }
  }

  private async send(clients: readonly string[], data: string, many: boolean): Promise<BackendReply> {
    try {
      const result = await this.store.send(clients, data);
      if (!result.ok) {
        const queued = this.countPartial(result.ids, clients.length);
        this.refusedFull += clients.length - queued;
        if (result.ids === undefined) return errorJson(queueFull(result.full, this.maxQueue));
        return partialRefusal('queue_full', `client ${result.full} already has ${this.maxQueue} unacknowledged messages (--max-queue)`, result.ids);
      }
      this.sent += clients.length;
      return many ? `{"ok":true,"ids":[${result.ids.join(',')}]}` : `{"ok":true,"id":${result.ids[0]!}}`;
    } catch (err) {
      const partial = err instanceof StoreError ? err.partialIds : undefined;
      const refused = clients.length - this.countPartial(partial, clients.length);
      if (err instanceof StoreError && err.failure === 'out_of_memory') this.refusedMemory += refused;
      else this.refusedUnavailable += refused;
      const failure = this.storeFailure(err);
      if (partial === undefined) return errorJson(failure);
      return partialRefusal(failure.code, `Redis failed a part of it (${(err as StoreError).message})`, partial);
    }
  }

  /** Of a refused send to `total` clients, the ones queued anyway (Redis Cluster, several slots); counts both. */
  private countPartial(ids: readonly number[] | undefined, total: number): number {
    const queued = ids === undefined ? 0 : ids.filter((id) => id !== 0).length;
    this.sent += queued;
    this.refused += total - queued;
    return queued;
  }

  private async status(client: string): Promise<BackendReply> {
    try {
      const queued = await this.store.queued(client);
      return `{"ok":true,"connected":${this.held.has(client)},"queued":${queued},"groups":[]}`;
    } catch (err) {
      return errorJson(this.storeFailure(err));
    }
  }

  /** The words for a call that Redis did not carry out (or may have). */
  private storeFailure(err: unknown): AppError {
    if (!(err instanceof StoreError)) throw err;
    switch (err.failure) {
      case 'out_of_memory':
        return { code: 'memory_full', message: `Redis is at its maxmemory (${err.message}); nothing was queued, retry after clients poll` };
      case 'unreachable':
        return { code: 'store_unavailable', message: `Redis at ${this.store.where} cannot be reached; nothing was queued, retry` };
      case 'answer_lost':
        return {
          code: 'store_unavailable',
          message: `the connection to Redis at ${this.store.where} broke before its answer (${err.message}): the message may have been queued; a retry may deliver it twice`,
        };
      case 'not_replicated':
        return {
          code: 'store_unavailable',
          message: `Redis queued it, but ${err.message}: it may be lost if Redis's master fails now; a retry may deliver it twice`,
        };
      case 'redis_error':
        return { code: 'store_unavailable', message: `Redis at ${this.store.where} answered with an error (${err.message}); nothing was queued` };
    }
  }

  stats(): ManagerStats {
    return {
      clients: this.held.size,
      held_polls: this.held.size,
      queued: 0,
      sent: this.sent,
      delivered: this.delivered,
      expired: 0,
      refused: this.refused,
      refused_queue_full: this.refusedFull,
      refused_memory_full: this.refusedMemory,
      refused_store_unavailable: this.refusedUnavailable,
      memory_used: 0,
      memory_budget: 0,
      groups: 0,
      memberships: 0,
      group_messages: 0,
    };
  }

  /** Queued messages live in Redis, not here. */
  queuedDataSize(): number {
    return 0;
  }

  flushDeliveries(): void {
    for (const port of this.workers) port.flush?.();
  }
}
