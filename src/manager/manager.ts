// Routing between apps and held polls, in one thread: which worker holds each
// client's poll, each client's unacknowledged messages, ids and TTL.
//
// A client is in one of these states, kept as its one entry in `clients`
// (one Map lookup finds everything about a client):
//   idle       no held poll, no messages: no entry at all
//   held       a poll is held: the entry is its HeldPolls slot (a Smi, no object)
//   queued     messages wait to be acknowledged: the entry is a ClientQueue
//              (whose heldSlot says whether a poll is held too)
// A client is normally never held and queued at once: a poll with messages
// after its cursor is answered at once instead of held, and a send to a held
// poll answers it. (Both happen only for a cursor above every id issued, which
// PROTOCOL.md says waits until ids pass it.)
//
// Delivered messages stay queued until a later poll's cursor acknowledges them
// or they expire, so a delivery lost in transit (the poll vanished, the
// response never arrived) costs nothing: the next poll gets them again.

import { ClientQueue } from './client-queue.js';
import { emptyPollBody } from '../protocol/poll-body.js';
import type { ManagerStats } from '../protocol/stats.js';
import { ExpiryBuckets } from './expiry-buckets.js';
import { HeldPolls, MAX_WORKERS } from './held-polls.js';
import { IdCounter } from './id-counter.js';
import type { WorkerPort } from './worker-port.js';

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
}

/** Default for ManagerOptions.maxDeliveryBytes. */
export const DEFAULT_MAX_DELIVERY_BYTES = 768 * 1024;

/** A send refused because `client`'s queue is at maxQueue; nothing was queued. The app layer words it. */
export type QueueFull = { ok: false; code: 'queue_full'; client: string };
export type SendResult = { ok: true; id: number } | QueueFull;
export type SendManyResult = { ok: true; ids: number[] } | QueueFull;

const TICK_MS = 1000;
const SPARE_QUEUES = 1024;

/** A client's entry: its held poll's slot, or its queue. */
type ClientEntry = number | ClientQueue;

/** What roomyEntry() answers for a client whose queue is at maxQueue. */
const FULL = null;

export class Manager {
  private readonly ttlMs: number;
  private readonly maxDeliveryBytes: number;
  /** Unacknowledged messages a client may have (--max-queue). */
  readonly maxQueue: number;
  private readonly now: () => number;
  private readonly workers: readonly WorkerPort[];
  private readonly held = new HeldPolls();
  /** Every client that is held or queued (see the file comment). */
  private readonly clients = new Map<string, ClientEntry>();
  private readonly expiry = new ExpiryBuckets();
  private readonly ids: IdCounter;
  private readonly sleep: (ms: number) => void;
  /** Emptied queues kept for reuse (at most SPARE_QUEUES). */
  private readonly spareQueues: ClientQueue[] = [];
  private queuedCount = 0;
  private sent = 0;
  private delivered = 0;
  private expired = 0;
  private refused = 0;
  private timer: NodeJS.Timeout | null = null;

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
  }

  /**
   * Worker `worker` holds a poll of `client` as `handle`, with cursor `since`.
   * Releases the client's older held poll (empty, with its own cursor),
   * acknowledges every message <= since, then answers at once if messages
   * wait, or remembers the poll.
   */
  onPoll(worker: number, handle: number, client: string, since: number): void {
    const entry = this.clients.get(client);
    const queue = typeof entry === 'object' ? entry : undefined;
    const slot = entry === undefined ? -1 : queue === undefined ? (entry as number) : queue.heldSlot;
    if (slot >= 0) {
      const oldWorker = this.held.workerOf(slot);
      const oldHandle = this.held.handleOf(slot);
      const oldSince = this.held.sinceOf(slot);
      this.held.remove(slot);
      if (queue !== undefined) queue.heldSlot = -1;
      if (oldWorker !== worker || oldHandle !== handle) this.workers[oldWorker]!.deliver(oldHandle, emptyPollBody(oldSince));
    }
    if (queue !== undefined) {
      this.queuedCount -= queue.acknowledge(since);
      this.dropExpired(queue, this.now());
      // Everything left is after `since`. The queue stays filed under its old
      // oldest message's second, which is no later than the new one's: the
      // sweep then just files it again, cheaper than refiling on every poll.
      const out = queue.bodyAfter(since, this.maxDeliveryBytes);
      if (out !== null) {
        this.delivered += out.count;
        this.workers[worker]!.deliver(handle, out.body);
        return;
      }
      this.recycle(queue); // empty: the entry becomes the held poll's slot below
    }
    this.clients.set(client, this.held.add(worker, handle, since));
  }

  /** The held poll `handle` of `client` on `worker` ended without a delivery; ignored if a newer poll replaced it. */
  onGone(worker: number, handle: number, client: string): void {
    const entry = this.clients.get(client);
    if (entry === undefined) return;
    const slot = typeof entry === 'number' ? entry : entry.heldSlot;
    if (slot < 0 || this.held.workerOf(slot) !== worker || this.held.handleOf(slot) !== handle) return;
    this.held.remove(slot);
    if (typeof entry === 'number') this.clients.delete(client);
    else entry.heldSlot = -1;
  }

  /** Queues `data` (a JSON value's text, forwarded byte for byte) for `client`, delivering it at once to a held poll. */
  send(client: string, data: string): SendResult {
    const id = this.sendOne(client, data);
    return id > 0 ? { ok: true, id } : { ok: false, code: 'queue_full', client };
  }

  /** send() without a result object: the message id, or 0 when the client's queue is full (nothing was queued). */
  sendOne(client: string, data: string): number {
    const now = this.now();
    const entry = this.roomyEntry(client, now);
    if (entry === FULL) {
      this.refused++;
      return 0;
    }
    return this.accept(client, data, now, entry);
  }

  /** send() to each of `clients` (distinct), all or nothing: ids in the order of `clients`. */
  sendMany(clients: readonly string[], data: string): SendManyResult {
    const now = this.now();
    for (const client of clients) {
      if (this.roomyEntry(client, now) === FULL) {
        this.refused += clients.length;
        return { ok: false, code: 'queue_full', client };
      }
    }
    const ids = new Array<number>(clients.length);
    for (let i = 0; i < clients.length; i++) {
      const client = clients[i]!;
      ids[i] = this.accept(client, data, now, this.clients.get(client));
    }
    return { ok: true, ids };
  }

  status(client: string): { connected: boolean; queued: number } {
    let entry = this.clients.get(client);
    let queued = 0;
    if (typeof entry === 'object') {
      this.dropExpired(entry, this.now());
      queued = entry.length;
      if (queued === 0) entry = this.dropQueue(entry);
    }
    const slot = entry === undefined ? -1 : typeof entry === 'number' ? entry : entry.heldSlot;
    return { connected: slot >= 0, queued };
  }

  stats(): ManagerStats {
    return {
      clients: this.clients.size,
      held_polls: this.held.size,
      queued: this.queuedCount,
      sent: this.sent,
      delivered: this.delivered,
      expired: this.expired,
      refused: this.refused,
    };
  }

  /** Drops expired messages of the queues whose oldest message is due; start() calls it every second. */
  expire(): void {
    const now = this.now();
    for (const queue of this.expiry.takeDue(now)) {
      this.dropExpired(queue, now);
      if (queue.length === 0) this.dropQueue(queue);
      else this.expiry.file(queue);
    }
  }

  /** Every held poll, for shutdown: the caller answers each with emptyPollBody(since). */
  heldPolls(): Array<{ client: string; worker: number; handle: number; since: number }> {
    const out: Array<{ client: string; worker: number; handle: number; since: number }> = [];
    for (const [client, entry] of this.clients) {
      const slot = typeof entry === 'number' ? entry : entry.heldSlot;
      if (slot >= 0) out.push({ client, worker: this.held.workerOf(slot), handle: this.held.handleOf(slot), since: this.held.sinceOf(slot) });
    }
    return out;
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
   * The client's entry after dropping expired messages (an emptied queue is
   * dropped, leaving the held poll's slot or nothing), or FULL when its queue
   * is at maxQueue.
   */
  private roomyEntry(client: string, now: number): ClientEntry | undefined | typeof FULL {
    const entry = this.clients.get(client);
    if (typeof entry !== 'object') return entry;
    this.dropExpired(entry, now);
    if (entry.length === 0) return this.dropQueue(entry);
    return entry.length >= this.maxQueue ? FULL : entry;
  }

  /** Queues one message (room was checked; `entry` is the client's) and answers the client's held poll with it. */
  private accept(client: string, data: string, now: number, entry: ClientEntry | undefined): number {
    const id = this.nextId(now);
    let queue: ClientQueue;
    if (typeof entry === 'object') {
      queue = entry;
      queue.push(id, data, now + this.ttlMs);
    } else {
      queue = this.spareQueues.pop() ?? new ClientQueue();
      queue.client = client;
      queue.heldSlot = entry ?? -1;
      queue.push(id, data, now + this.ttlMs);
      this.clients.set(client, queue);
      this.expiry.file(queue);
    }
    this.sent++;
    this.queuedCount++;
    const slot = queue.heldSlot;
    if (slot >= 0) {
      const since = this.held.sinceOf(slot);
      if (id > since) {
        const out = queue.bodyAfter(since, this.maxDeliveryBytes)!;
        const worker = this.held.workerOf(slot);
        const handle = this.held.handleOf(slot);
        this.held.remove(slot);
        queue.heldSlot = -1;
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
    const n = queue.dropExpired(now);
    this.expired += n;
    this.queuedCount -= n;
  }

  /** Forgets an empty queue; the client's entry becomes its held poll's slot, or goes. Returns the new entry. */
  private dropQueue(queue: ClientQueue): ClientEntry | undefined {
    const slot = queue.heldSlot;
    if (slot >= 0) this.clients.set(queue.client, slot);
    else this.clients.delete(queue.client);
    this.recycle(queue);
    return slot >= 0 ? slot : undefined;
  }

  /** Unfiles an empty queue and keeps it for reuse; the caller has updated or will update the client's entry. */
  private recycle(queue: ClientQueue): void {
    this.expiry.unfile(queue);
    // Most queues live for one message (sent, delivered, acknowledged): reusing them spares the collector.
    if (this.spareQueues.length < SPARE_QUEUES) {
      queue.client = '';
      queue.heldSlot = -1;
      this.spareQueues.push(queue);
    }
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
