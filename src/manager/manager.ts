// Routing between apps and held polls, in one thread: which worker holds each
// client's poll, each client's unacknowledged messages, ids and TTL.
//
// A client is in one of these states, and the manager keeps nothing for it
// beyond the state's own entry:
//   idle       no held poll, no messages: no entry at all
//   held       a poll is held (HeldPolls slot, no object)
//   queued     messages wait to be acknowledged (a ClientQueue)
// A client is normally never held and queued at once: a poll with messages
// after its cursor is answered at once instead of held, and a send to a held
// poll answers it. (Both happen only for a cursor above every id issued, which
// PROTOCOL.md says waits until ids pass it.)
//
// Delivered messages stay queued until a later poll's cursor acknowledges them
// or they expire, so a delivery lost in transit (the poll vanished, the
// response never arrived) costs nothing: the next poll gets them again.

import { ClientQueue, emptyBody } from './client-queue.js';
import { ExpiryBuckets } from './expiry-buckets.js';
import { HeldPolls, MAX_WORKERS } from './held-polls.js';
import { IdCounter } from './id-counter.js';

export { emptyBody } from './client-queue.js';

/** The manager's way to one worker: writes a DELIVER record to it. */
export interface WorkerLink {
  deliver(handle: number, body: string): void;
}

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
}

/** Default for ManagerOptions.maxDeliveryBytes. */
export const DEFAULT_MAX_DELIVERY_BYTES = 768 * 1024;

export type QueueFull = { ok: false; error: 'queue_full'; message: string };
export type SendResult = { ok: true; id: number } | QueueFull;
export type SendManyResult = { ok: true; ids: number[] } | QueueFull;

export interface ManagerStats {
  /** Clients with a held poll or queued messages. */
  clients: number;
  /** Polls the manager knows to be held. */
  held_polls: number;
  /** Messages queued and not yet acknowledged (expired ones leave within ~2 s). */
  queued: number;
  /** Messages accepted, one per recipient, since start. */
  sent: number;
  /** Messages written into delivery bodies, each time one goes out (a redelivery after a lost response counts again). */
  delivered: number;
  /** Messages dropped because their TTL passed before acknowledgement. */
  expired: number;
  /** Messages refused with queue_full, one per recipient of the refused request. */
  refused: number;
}

const TICK_MS = 1000;
const SPARE_QUEUES = 1024;

export class Manager {
  private readonly ttlMs: number;
  private readonly maxDeliveryBytes: number;
  private readonly maxQueue: number;
  private readonly now: () => number;
  private readonly links: readonly WorkerLink[];
  private readonly held = new HeldPolls();
  private readonly queues = new Map<string, ClientQueue>();
  private readonly expiry = new ExpiryBuckets();
  private readonly ids = new IdCounter();
  /** Emptied queues kept for reuse (at most SPARE_QUEUES). */
  private readonly spareQueues: ClientQueue[] = [];
  /** Clients both held and queued (see the file comment), so `clients` counts each once. */
  private heldAndQueued = 0;
  private queuedCount = 0;
  private sent = 0;
  private delivered = 0;
  private expired = 0;
  private refused = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(options: ManagerOptions, links: readonly WorkerLink[]) {
    if (!(options.ttlMs > 0)) throw new RangeError(`ttlMs must be a positive number of milliseconds, got ${options.ttlMs}`);
    if (!Number.isInteger(options.maxQueue) || options.maxQueue < 1) {
      throw new RangeError(`maxQueue must be a positive integer, got ${options.maxQueue}`);
    }
    if (links.length > MAX_WORKERS) throw new RangeError(`at most ${MAX_WORKERS} workers, got ${links.length}`);
    this.ttlMs = options.ttlMs;
    this.maxDeliveryBytes = options.maxDeliveryBytes ?? DEFAULT_MAX_DELIVERY_BYTES;
    this.maxQueue = options.maxQueue;
    this.now = options.now ?? monotonicNow;
    this.links = links;
  }

  /**
   * Worker `worker` holds a poll of `client` as `handle`, with cursor `since`.
   * Releases the client's older held poll (empty, with its own cursor),
   * acknowledges every message <= since, then answers at once if messages
   * wait, or remembers the poll.
   */
  onPoll(worker: number, handle: number, client: string, since: number): void {
    const slot = this.held.find(client);
    const queue = this.queues.get(client);
    if (slot >= 0) {
      const oldWorker = this.held.workerOf(slot);
      const oldHandle = this.held.handleOf(slot);
      const oldSince = this.held.sinceOf(slot);
      this.unhold(client, slot, queue !== undefined);
      if (oldWorker !== worker || oldHandle !== handle) this.links[oldWorker]!.deliver(oldHandle, emptyBody(oldSince));
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
        this.links[worker]!.deliver(handle, out.body);
        return;
      }
      this.dropQueue(queue, false);
    }
    this.held.add(client, worker, handle, since);
  }

  /** The held poll `handle` of `client` on `worker` ended without a delivery; ignored if a newer poll replaced it. */
  onGone(worker: number, handle: number, client: string): void {
    const slot = this.held.find(client);
    if (slot >= 0 && this.held.workerOf(slot) === worker && this.held.handleOf(slot) === handle) {
      this.unhold(client, slot, this.queues.has(client));
    }
  }

  /** Queues `data` (a JSON value's text, forwarded byte for byte) for `client`, delivering it at once to a held poll. */
  send(client: string, data: string): SendResult {
    const now = this.now();
    const queue = this.roomyQueue(client, now);
    if (queue === null) {
      this.refused++;
      return queueFull(client, this.maxQueue);
    }
    return { ok: true, id: this.accept(client, data, now, queue) };
  }

  /** send() to each of `clients` (distinct), all or nothing: ids in the order of `clients`. */
  sendMany(clients: readonly string[], data: string): SendManyResult {
    const now = this.now();
    for (const client of clients) {
      if (this.roomyQueue(client, now) === null) {
        this.refused += clients.length;
        return queueFull(client, this.maxQueue);
      }
    }
    const ids = new Array<number>(clients.length);
    for (let i = 0; i < clients.length; i++) {
      const client = clients[i]!;
      ids[i] = this.accept(client, data, now, this.queues.get(client));
    }
    return { ok: true, ids };
  }

  status(client: string): { connected: boolean; queued: number } {
    const queue = this.queues.get(client);
    let queued = 0;
    if (queue !== undefined) {
      this.dropExpired(queue, this.now());
      queued = queue.length;
      if (queued === 0) this.dropQueue(queue, this.held.find(client) >= 0);
    }
    return { connected: this.held.find(client) >= 0, queued };
  }

  stats(): ManagerStats {
    return {
      clients: this.held.size + this.queues.size - this.heldAndQueued,
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
      if (queue.length === 0) this.dropQueue(queue, this.held.find(queue.client) >= 0);
      else this.expiry.file(queue);
    }
  }

  /** Every held poll, for shutdown: the caller answers each with emptyBody(since). */
  heldPolls(): Array<{ client: string; worker: number; handle: number; since: number }> {
    const out: Array<{ client: string; worker: number; handle: number; since: number }> = [];
    this.held.forEach((client, worker, handle, since) => out.push({ client, worker, handle, since }));
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
   * The client's queue after dropping expired messages: undefined when it has
   * none (an emptied one is dropped), null when it is at maxQueue.
   */
  private roomyQueue(client: string, now: number): ClientQueue | undefined | null {
    const queue = this.queues.get(client);
    if (queue === undefined) return undefined;
    this.dropExpired(queue, now);
    if (queue.length === 0) {
      this.dropQueue(queue, this.held.find(client) >= 0);
      return undefined;
    }
    return queue.length >= this.maxQueue ? null : queue;
  }

  /** Queues one message (room was checked; `queue` is the client's, if any) and answers the client's held poll with it. */
  private accept(client: string, data: string, now: number, queue: ClientQueue | undefined): number {
    const id = this.ids.next(now);
    const slot = this.held.find(client);
    if (queue === undefined) {
      queue = this.spareQueues.pop() ?? new ClientQueue();
      queue.client = client;
      queue.push(id, data, now + this.ttlMs);
      this.queues.set(client, queue);
      this.expiry.file(queue);
      if (slot >= 0) this.heldAndQueued++;
    } else {
      queue.push(id, data, now + this.ttlMs);
    }
    this.sent++;
    this.queuedCount++;
    if (slot >= 0) {
      const since = this.held.sinceOf(slot);
      if (id > since) {
        const out = queue.bodyAfter(since, this.maxDeliveryBytes)!;
        const worker = this.held.workerOf(slot);
        const handle = this.held.handleOf(slot);
        this.unhold(client, slot, true);
        this.delivered += out.count;
        this.links[worker]!.deliver(handle, out.body);
      }
    }
    return id;
  }

  private unhold(client: string, slot: number, queued: boolean): void {
    this.held.remove(client, slot);
    if (queued) this.heldAndQueued--;
  }

  private dropExpired(queue: ClientQueue, now: number): void {
    const n = queue.dropExpired(now);
    this.expired += n;
    this.queuedCount -= n;
  }

  /** Forgets an empty queue; `held` says whether its client has a held poll. */
  private dropQueue(queue: ClientQueue, held: boolean): void {
    this.expiry.unfile(queue);
    this.queues.delete(queue.client);
    if (held) this.heldAndQueued--;
    // Most queues live for one message (sent, delivered, acknowledged): reusing them spares the collector.
    if (this.spareQueues.length < SPARE_QUEUES) {
      queue.client = '';
      this.spareQueues.push(queue);
    }
  }
}

const TIME_ORIGIN = performance.timeOrigin;

function monotonicNow(): number {
  return TIME_ORIGIN + performance.now();
}

function queueFull(client: string, maxQueue: number): QueueFull {
  return {
    ok: false,
    error: 'queue_full',
    message: `client ${client} already has ${maxQueue} unacknowledged messages (--max-queue); nothing was queued, retry after it polls`,
  };
}
