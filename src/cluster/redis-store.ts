// The node's two connections to Redis (ioredis): one for the functions of
// ./redis-functions.ts, one subscribed to the notifications. Commands are
// never queued while Redis is unreachable and never resent after a broken
// connection: a send either reaches Redis once or fails at once, and the app
// is told which (./redis-router.ts words it).

import { Cluster, Redis, type RedisOptions } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import { LIBRARY_SOURCE, NOTIFY_CHANNEL, streamKey } from './redis-functions.js';
import { connectionOptions, describeRedisTarget, type RedisTarget } from './redis-url.js';
import { log } from '../log.js';

/** One queued message as Redis returns it. */
export interface StoredMessage {
  readonly id: number;
  /** The data's JSON text, byte for byte as the app sent it. */
  readonly data: string;
}

/**
 * ok: ids in the order of the clients; full: the client whose queue is at --max-queue. Nothing was
 * queued, except in Redis Cluster when the clients span slots: then `ids` says which were (0: not).
 */
export type StoreSendResult = { ok: true; ids: number[] } | { ok: false; full: string; ids?: number[] };

/** A connection to one Redis, or to a Redis Cluster (commands routed by key slot). */
type Connection = Redis | Cluster;

/** Why a call failed. */
export type StoreFailure =
  /** Not sent: no connection to Redis. Nothing changed in Redis. */
  | 'unreachable'
  /** Sent, but the connection broke before the answer: Redis may have carried it out. */
  | 'answer_lost'
  /** Redis refused it at maxmemory (noeviction). Nothing changed. */
  | 'out_of_memory'
  /** Redis answered with another error (a key of another type under mc:, a Redis too old for functions). */
  | 'redis_error'
  /** Queued on the master, but fewer replicas than --redis-wait confirmed it in time. */
  | 'not_replicated';

export class StoreError extends Error {
  override name = 'StoreError';
  /** Redis Cluster, a send to clients of several slots: which were queued anyway (0: not). */
  partialIds: number[] | undefined;
  constructor(
    readonly failure: StoreFailure,
    message: string,
  ) {
    super(message);
  }
}

/** What the store tells the router. */
export interface StoreEvents {
  /** A message `id` was queued for `client` (on any node); `data` unless it was over NOTIFY_DATA_MAX. */
  notified(client: string, id: number, data: string | undefined): void;
  /** The subscription is (again) in place: notifications from now on arrive; earlier ones may have been missed. */
  listening(): void;
  /** The subscription broke: notifications are being missed. */
  deaf(): void;
  /** The command connection is (again) ready. */
  commandsReady(): void;
  /**
   * Redis Cluster's nodes changed (a failover, a node added or lost): notifications of a shard
   * may have been lost without the subscription breaking.
   */
  topologyChanged(): void;
}

export interface RedisStoreOptions {
  /** One Redis, or a master behind Sentinel (./redis-url.ts). */
  target: RedisTarget;
  ttlMs: number;
  maxQueue: number;
  /** Give up starting when Redis cannot be reached for this long. */
  connectTimeoutMs?: number;
  /** Replicas a send must reach before it counts as done (--redis-wait); 0: none. */
  waitReplicas?: number;
}

/** How long a WAIT for --redis-wait replicas may take. */
const WAIT_TIMEOUT_MS = 1000;

/** Reconnection backoff: 100 ms doubling to 2 s, for ever. */
const RETRY = (attempt: number): number => Math.min(50 * 2 ** Math.min(attempt, 6), 2000);

const CONNECTION: RedisOptions = {
  lazyConnect: true,
  // Fail at once while disconnected instead of waiting in an offline queue.
  enableOfflineQueue: false,
  // A command in flight when the connection breaks fails; it is never resent (that could queue a message twice).
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  enableAutoPipelining: true,
  connectionName: 'megacomet',
  retryStrategy: (attempt: number) => RETRY(attempt),
};

export class RedisStore {
  private readonly commands: Connection;
  private readonly subscriber: Connection;
  private readonly ttl: string;
  private readonly maxQueue: string;
  private closed = false;
  /** The WAIT the sends finishing in this turn share (--redis-wait). */
  private pendingWait: Promise<number> | null = null;
  /** The target without its password, for logs. */
  readonly where: string;
  /** The last connection error, for the start-up failure's message. */
  private lastError: string | undefined;
  /** Logged once per outage, not once per failed call. */
  private down = false;

  constructor(
    private readonly options: RedisStoreOptions,
    private readonly events: StoreEvents,
  ) {
    this.ttl = String(options.ttlMs);
    this.maxQueue = String(options.maxQueue);
    this.where = describeRedisTarget(options.target);
    this.commands = connect(options.target, CONNECTION);
    this.subscriber = connect(options.target, { ...CONNECTION, enableOfflineQueue: true, autoResubscribe: false, enableAutoPipelining: false });
    // ioredis reports every failed reconnection as 'error'; the outage is logged once (markDown).
    this.commands.on('error', (err: Error) => this.markDown(err));
    this.subscriber.on('error', (err: Error) => this.markDown(err));
    this.commands.on('close', () => this.markDown(new Error('the connection closed'), false));
    this.commands.on('ready', () => void this.onCommandsReady());
    if (this.commands instanceof Cluster) {
      this.commands.on('+node', (node: Redis) => {
        // A new master needs the library (a replica refuses it: READONLY, and gets it by replication).
        node.call('FUNCTION', 'LOAD', 'REPLACE', LIBRARY_SOURCE).catch(() => undefined);
        this.events.topologyChanged();
      });
      this.commands.on('-node', () => this.events.topologyChanged());
    }
    this.subscriber.on('ready', () => void this.onSubscriberReady());
    this.subscriber.on('close', () => {
      if (!this.closed) this.events.deaf();
    });
    this.subscriber.on('message', (_channel: string, text: string) => {
      // Client ids and ids have no spaces; the data (JSON) may.
      const first = text.indexOf(' ');
      if (first <= 0) return;
      const second = text.indexOf(' ', first + 1);
      const id = Number(second < 0 ? text.slice(first + 1) : text.slice(first + 1, second));
      if (Number.isSafeInteger(id)) this.events.notified(text.slice(0, first), id, second < 0 ? undefined : text.slice(second + 1));
    });
  }

  /** Connects both, checks Redis's eviction policy and loads the functions; rejects with what to do. */
  async start(): Promise<void> {
    const timeoutMs = this.options.connectTimeoutMs ?? 10_000;
    const where = this.where;
    const timeout = new Promise<never>((_, reject) => {
      setTimeout(() => {
        const last = this.lastError === undefined ? 'is redis-server running there?' : `the last error: ${this.lastError}`;
        reject(new Error(`no answer from Redis at ${where} within ${timeoutMs / 1000} s (${last})`));
      }, timeoutMs).unref();
    });
    try {
      // Not connect()'s promise: a Redis Cluster client that closes while it settles reconnects by
      // itself, but the promise of that first connect() then never settles. 'ready' comes either way.
      await Promise.race([Promise.all([whenReady(this.commands), whenReady(this.subscriber)]), timeout]);
      await Promise.race([this.prepare(Date.now() + timeoutMs), timeout]);
    } catch (err) {
      this.close();
      throw new Error(`cannot use Redis at ${where}: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Checks the eviction policy and loads the functions on every master. A Redis Cluster client may
   * replace its node connections while it settles (a call on a dropped one never returns), so each
   * attempt is bounded and repeated, on the masters known then, until `deadline`.
   */
  private async prepare(deadline: number): Promise<void> {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          (async () => {
            await this.checkPolicy();
            await this.loadFunctions();
          })(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error('a Redis did not answer within 2 s')), 2000);
          }),
        ]);
        return;
      } catch (err) {
        // A Redis that evicts is a refusal, not a hiccup.
        if (/maxmemory-policy/.test((err as Error).message) || Date.now() + 2000 > deadline) throw err;
      } finally {
        clearTimeout(timer);
      }
    }
  }

  /**
   * Queues `data` for every one of `clients` (distinct), all or nothing (in Redis Cluster, all or
   * nothing per slot: see StoreSendResult).
   */
  async send(clients: readonly string[], data: string): Promise<StoreSendResult> {
    if (this.commands instanceof Cluster && clients.length > 1) return this.sendPerSlot(clients, data);
    return this.sendInOneCall(clients, data);
  }

  /** Redis Cluster: one call per slot, in parallel; one client's keys share a slot by the hash tag. */
  private async sendPerSlot(clients: readonly string[], data: string): Promise<StoreSendResult> {
    const bySlot = groupBySlot(clients);
    if (bySlot.size === 1) return this.sendInOneCall(clients, data);
    const groups = [...bySlot.values()];
    const results = await Promise.allSettled(groups.map((g) => this.sendInOneCall(g.map((i) => clients[i]!), data)));
    const ids = new Array<number>(clients.length).fill(0);
    let full: string | undefined;
    let failure: StoreError | undefined;
    results.forEach((r, k) => {
      const group = groups[k]!;
      if (r.status === 'rejected') failure ??= r.reason instanceof StoreError ? r.reason : this.classify(r.reason);
      else if (r.value.ok) group.forEach((i, j) => (ids[i] = (r.value as { ids: number[] }).ids[j]!));
      else full ??= r.value.full;
    });
    if (full === undefined && failure === undefined) return { ok: true, ids };
    const partial = ids.some((id) => id !== 0) ? ids : undefined;
    if (failure !== undefined) {
      failure.partialIds = partial;
      throw failure;
    }
    return partial === undefined ? { ok: false, full: full! } : { ok: false, full: full!, ids: partial };
  }

  private async sendInOneCall(clients: readonly string[], data: string): Promise<StoreSendResult> {
    const args: string[] = ['mc_send', String(clients.length)];
    for (const client of clients) args.push(streamKey(client));
    args.push(this.ttl, this.maxQueue, NOTIFY_CHANNEL, data, ...clients);
    const reply = (await this.fcall(args)) as number[];
    if (reply[0] === 0) return { ok: false, full: clients[reply[1]! - 1]! };
    const wanted = this.options.waitReplicas ?? 0;
    if (wanted > 0) {
      const reached = await this.replicated();
      if (reached < wanted) {
        throw new StoreError('not_replicated', `${reached} of the ${wanted} replicas (--redis-wait) confirmed it within ${WAIT_TIMEOUT_MS} ms`);
      }
    }
    return { ok: true, ids: reply.slice(1) };
  }

  /**
   * Replicas that have every write made on the command connection so far: one WAIT for all the
   * sends that finished in one event-loop turn (WAIT covers everything written before it).
   */
  private replicated(): Promise<number> {
    this.pendingWait ??= new Promise<number>((resolve, reject) => {
      setImmediate(() => {
        this.pendingWait = null;
        this.commands.call('WAIT', String(this.options.waitReplicas), String(WAIT_TIMEOUT_MS)).then((n) => resolve(n as number), (err: unknown) => reject(this.classify(err)));
      });
    });
    return this.pendingWait;
  }

  /** Acknowledges `client`'s messages up to `ack` and reads at most `limit` of those after `after`. */
  async poll(client: string, ack: number, after: number, limit: number): Promise<StoredMessage[]> {
    const reply = (await this.fcall(['mc_poll', '1', streamKey(client), String(ack), String(after), String(limit), this.ttl])) as Array<[string, string[]]>;
    const out: StoredMessage[] = new Array(reply.length);
    for (let i = 0; i < reply.length; i++) {
      const [entryId, fields] = reply[i]!;
      out[i] = { id: Number(entryId.slice(0, entryId.indexOf('-'))), data: fields[1]! };
    }
    return out;
  }

  /** Acknowledges, for each client, its messages up to its cursor (`cursors` in the same order). */
  async acknowledge(clients: readonly string[], cursors: readonly number[]): Promise<void> {
    if (this.commands instanceof Cluster && clients.length > 1) {
      // A call's keys must share a slot in Redis Cluster: one call per slot.
      const bySlot = groupBySlot(clients);
      if (bySlot.size > 1) {
        await Promise.all([...bySlot.values()].map((g) => this.acknowledge(g.map((i) => clients[i]!), g.map((i) => cursors[i]!))));
        return;
      }
    }
    const args: string[] = ['mc_ack', String(clients.length)];
    for (const client of clients) args.push(streamKey(client));
    args.push(this.ttl);
    for (const cursor of cursors) args.push(String(cursor));
    await this.fcall(args);
  }

  /** Unexpired, unacknowledged messages of `client`. */
  async queued(client: string): Promise<number> {
    return (await this.fcall(['mc_queued', '1', streamKey(client), this.ttl])) as number;
  }

  /** Whether the command connection is up now. */
  get ready(): boolean {
    return this.commands.status === 'ready';
  }

  close(): void {
    this.closed = true;
    this.commands.disconnect();
    this.subscriber.disconnect();
  }

  private async fcall(args: string[]): Promise<unknown> {
    try {
      return await this.commands.call('FCALL', ...args);
    } catch (err) {
      // A Redis restarted without persistence has lost the library: load it and try once more.
      if (err instanceof Error && /function not found/i.test(err.message)) {
        try {
          await this.loadFunctions();
          return await this.commands.call('FCALL', ...args);
        } catch (again) {
          throw this.classify(again);
        }
      }
      throw this.classify(err);
    }
  }

  private classify(err: unknown): StoreError {
    const message = err instanceof Error ? err.message : String(err);
    if (message.startsWith('OOM')) return new StoreError('out_of_memory', message);
    if (this.commands.status !== 'ready' && /writeable|enableOfflineQueue/.test(message)) return new StoreError('unreachable', message);
    if (err instanceof Error && err.name === 'ReplyError') return new StoreError('redis_error', message);
    return new StoreError('answer_lost', message);
  }

  /** Every Redis a command may reach: the masters of a cluster, or the one Redis. */
  private masters(): Redis[] {
    return this.commands instanceof Cluster ? this.commands.nodes('master') : [this.commands];
  }

  private async loadFunctions(): Promise<void> {
    await Promise.all(this.masters().map((m) => m.call('FUNCTION', 'LOAD', 'REPLACE', LIBRARY_SOURCE)));
  }

  /** Eviction would drop queued messages silently: refuse to start on such a Redis. */
  private async checkPolicy(): Promise<void> {
    for (const master of this.masters()) {
      let policy: string;
      try {
        const reply = (await master.call('CONFIG', 'GET', 'maxmemory-policy')) as string[];
        policy = reply[1] ?? 'noeviction';
      } catch (err) {
        log(`cannot read Redis's maxmemory-policy (${(err as Error).message}); make sure it is noeviction, or queued messages can be evicted`);
        return;
      }
      if (policy !== 'noeviction') {
        throw new Error(`Redis evicts keys (maxmemory-policy ${policy}), which would drop queued messages; set maxmemory-policy noeviction`);
      }
    }
  }

  private async onCommandsReady(): Promise<void> {
    if (this.closed) return;
    if (this.down) log(`Redis at ${this.where} is reachable again`);
    this.down = false;
    try {
      await this.loadFunctions();
    } catch (err) {
      log(`cannot load the functions into Redis: ${(err as Error).message}; retried at the next call`);
    }
    this.events.commandsReady();
  }

  private async onSubscriberReady(): Promise<void> {
    if (this.closed) return;
    try {
      await this.subscriber.subscribe(NOTIFY_CHANNEL);
      this.events.listening();
    } catch (err) {
      // The connection broke again; the next 'ready' subscribes.
      log(`cannot subscribe to ${NOTIFY_CHANNEL}: ${(err as Error).message}`);
    }
  }

  /** `cause`: the error says why (a 'close' does not, and must not hide the error that does). */
  private markDown(err: Error, cause = true): void {
    if (cause) this.lastError = err.message;
    if (this.down || this.closed) return;
    this.down = true;
    log(`Redis at ${this.where} is unreachable (${err.message}): sends get store_unavailable, held polls wait; reconnecting`);
  }
}

/** The indexes of `clients`, by the Redis Cluster slot of their streams. */
function groupBySlot(clients: readonly string[]): Map<number, number[]> {
  const bySlot = new Map<number, number[]>();
  clients.forEach((client, i) => {
    const slot = calculateSlot(streamKey(client));
    const list = bySlot.get(slot);
    if (list === undefined) bySlot.set(slot, [i]);
    else list.push(i);
  });
  return bySlot;
}

/** Starts connecting and resolves once `conn` is ready (or at once if it is). */
function whenReady(conn: Connection): Promise<void> {
  if (conn.status === 'ready') return Promise.resolve();
  const ready = new Promise<void>((resolve) => conn.once('ready', () => resolve()));
  if (conn.status === 'wait') conn.connect().catch(() => undefined);
  return ready;
}

function connect(target: RedisTarget, base: RedisOptions): Connection {
  if (target.kind === 'cluster') {
    const { retryStrategy: _retry, enableOfflineQueue, enableAutoPipelining, lazyConnect, ...perNode } = base;
    return new Cluster(
      target.nodes.map((n) => ({ host: n.host, port: n.port })),
      {
        lazyConnect: lazyConnect ?? true,
        enableOfflineQueue: enableOfflineQueue ?? false,
        enableAutoPipelining: enableAutoPipelining ?? false,
        clusterRetryStrategy: (attempt: number) => RETRY(attempt),
        // Notice a failover within a few seconds: until then a shard's lost notifications delay, never lose.
        slotsRefreshInterval: 2000,
        redisOptions: {
          ...perNode,
          ...(target.username === undefined ? {} : { username: target.username }),
          ...(target.password === undefined ? {} : { password: target.password }),
        },
      },
    );
  }
  const { url, options } = connectionOptions(target, base);
  return url === undefined ? new Redis(options) : new Redis(url, options);
}
