// Per-client state of the baseline: a Map of client id -> queue of unacknowledged messages and
// the held poll, with a setTimeout per held poll. The straightforward design the bench measures
// MegaComet against.
import type { ServerResponse } from 'node:http';

interface QueuedMessage {
  readonly id: number;
  /** The data as JSON text, serialised once when it was sent. */
  readonly json: string;
  readonly expiresAt: number;
}

interface HeldPoll {
  readonly res: ServerResponse;
  readonly since: number;
  readonly callback: string | null;
  readonly timer: NodeJS.Timeout;
}

interface ClientState {
  queue: QueuedMessage[];
  held: HeldPoll | null;
}

export type SendResult = { ok: true; id: number } | { ok: false; error: 'queue_full' };
export type SendManyResult = { ok: true; ids: number[] } | { ok: false; error: 'queue_full' };

export interface StoreStats {
  clients: number;
  heldPolls: number;
  queued: number;
  sent: number;
  delivered: number;
  expired: number;
  refused: number;
}

/** Writes a poll answer: `{"cursor":N,"messages":[...]}`, JSONP-wrapped when asked. */
export type PollWriter = (res: ServerResponse, cursor: number, messages: readonly string[], callback: string | null) => void;

export class ClientStore {
  private readonly clients = new Map<string, ClientState>();
  // Seeded from the clock (microseconds since 1970, ~1.7e15 < 2^53), so ids grow across restarts.
  private nextId = Date.now() * 1000;
  private heldPolls = 0;
  private queued = 0;
  private sent = 0;
  private delivered = 0;
  private expired = 0;
  private refused = 0;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly pollTimeoutMs: number,
    private readonly ttlMs: number,
    private readonly maxQueue: number,
    private readonly writePoll: PollWriter,
  ) {
    // Expiry is noticed by a sweep once a second (PROTOCOL.md allows up to 1 s late).
    this.sweeper = setInterval(() => this.sweep(), 1000);
    this.sweeper.unref();
  }

  /** A poll for `client` acknowledging everything up to `since`: answered now, or held. */
  poll(client: string, since: number, res: ServerResponse, callback: string | null): void {
    let state = this.clients.get(client);
    if (state === undefined) {
      state = { queue: [], held: null };
      this.clients.set(client, state);
    }
    this.acknowledge(state, since);
    if (state.held !== null) this.release(state, state.held.since, []);
    const now = Date.now();
    const pending = state.queue.filter((m) => m.id > since && m.expiresAt > now);
    if (pending.length > 0) {
      this.answer(res, pending, callback);
      return;
    }
    const timer = setTimeout(() => {
      if (state.held?.res === res) this.release(state, since, []);
      this.forgetIfEmpty(client, state);
    }, this.pollTimeoutMs);
    state.held = { res, since, callback, timer };
    this.heldPolls++;
    res.on('close', () => {
      // The browser went away (or we answered): forget the poll if it is still this one.
      if (state.held?.res === res) {
        clearTimeout(state.held.timer);
        state.held = null;
        this.heldPolls--;
        this.forgetIfEmpty(client, state);
      }
    });
  }

  send(client: string, json: string): SendResult {
    const state = this.clients.get(client);
    if (state !== undefined && state.queue.length >= this.maxQueue) {
      this.refused++;
      return { ok: false, error: 'queue_full' };
    }
    return { ok: true, id: this.enqueue(client, json) };
  }

  /** All or nothing: if any queue is full, nothing is queued. */
  sendMany(clients: readonly string[], json: string): SendManyResult {
    for (const client of clients) {
      const state = this.clients.get(client);
      if (state !== undefined && state.queue.length >= this.maxQueue) {
        this.refused++;
        return { ok: false, error: 'queue_full' };
      }
    }
    return { ok: true, ids: clients.map((client) => this.enqueue(client, json)) };
  }

  status(client: string): { connected: boolean; queued: number } {
    const state = this.clients.get(client);
    if (state === undefined) return { connected: false, queued: 0 };
    const now = Date.now();
    return { connected: state.held !== null, queued: state.queue.filter((m) => m.expiresAt > now).length };
  }

  stats(): StoreStats {
    return {
      clients: this.clients.size,
      heldPolls: this.heldPolls,
      queued: this.queued,
      sent: this.sent,
      delivered: this.delivered,
      expired: this.expired,
      refused: this.refused,
    };
  }

  /** Answers every held poll with its empty response (shutdown). */
  releaseAll(): void {
    clearInterval(this.sweeper);
    for (const state of this.clients.values()) {
      if (state.held !== null) this.release(state, state.held.since, []);
    }
  }

  private enqueue(client: string, json: string): number {
    let state = this.clients.get(client);
    if (state === undefined) {
      state = { queue: [], held: null };
      this.clients.set(client, state);
    }
    const message: QueuedMessage = { id: ++this.nextId, json, expiresAt: Date.now() + this.ttlMs };
    state.queue.push(message);
    this.queued++;
    this.sent++;
    if (state.held !== null) {
      const since = state.held.since;
      this.release(state, since, state.queue.filter((m) => m.id > since));
    }
    return message.id;
  }

  private acknowledge(state: ClientState, since: number): void {
    let n = 0;
    while (n < state.queue.length && (state.queue[n] as QueuedMessage).id <= since) n++;
    if (n > 0) {
      state.queue.splice(0, n);
      this.queued -= n;
    }
  }

  /** Answers the held poll of `state` with `messages` and forgets it. */
  private release(state: ClientState, since: number, messages: readonly QueuedMessage[]): void {
    const held = state.held;
    if (held === null) return;
    clearTimeout(held.timer);
    state.held = null;
    this.heldPolls--;
    if (messages.length === 0) {
      this.writePoll(held.res, since, [], held.callback);
    } else {
      this.answer(held.res, messages, held.callback);
    }
  }

  private answer(res: ServerResponse, messages: readonly QueuedMessage[], callback: string | null): void {
    this.delivered += messages.length;
    const last = messages[messages.length - 1] as QueuedMessage;
    this.writePoll(res, last.id, messages.map((m) => m.json), callback);
  }

  private forgetIfEmpty(client: string, state: ClientState): void {
    // The entry may already be a newer one for the same id: only forget this one.
    if (state.held === null && state.queue.length === 0 && this.clients.get(client) === state) this.clients.delete(client);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [client, state] of this.clients) {
      // Every message of a client lives the same TTL, so expired ones are at the front.
      let n = 0;
      while (n < state.queue.length && (state.queue[n] as QueuedMessage).expiresAt <= now) n++;
      if (n > 0) {
        state.queue.splice(0, n);
        this.queued -= n;
        this.expired += n;
      }
      this.forgetIfEmpty(client, state);
    }
  }
}
