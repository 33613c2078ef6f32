// How the manager takes in what the workers publish quietly (src/ring/prompt-board.ts):
// a POLL that needs no prompt answer does not wake this thread, so the manager
// reads the rings itself
//   - before each operation that depends on them (sync): an app's send, join,
//     publish, status, a stats reply, the expiry tick, a takeover's export;
//   - at the end of every task in which it wrote to the board (settle, a
//     microtask), after its last store: the other half of the board's
//     handshake, so a POLL that looked at the board before the store is read
//     now and answered if the store concerns it.
// It also keeps the board: held / released / queued as the manager's state
// changes, and the members word from the group count at each settle.

import { PromptBoard, promptBucket } from '../ring/prompt-board.js';

/** A worker's ring as the manager reads it outside its own wake-ups. */
export interface InboundSource {
  /** Reads every record published now into the handler given at start; 0 inside that handler (not reentrant). */
  drainNow(): number;
}

export class PollIntake {
  private sources: readonly InboundSource[] = [];
  private readonly board: PromptBoard | null;
  private settleScheduled = false;
  private readonly settleBound = (): void => this.settle();

  /** `anyMembers`: whether some client is in a group now (then every POLL is prompt). */
  constructor(
    board: SharedArrayBuffer | undefined,
    private readonly anyMembers: () => boolean,
  ) {
    this.board = board === undefined ? null : new PromptBoard(board);
  }

  /** The workers' rings; without them (tests feeding the manager directly) sync and settle do nothing. */
  attach(sources: readonly InboundSource[]): void {
    this.sources = sources;
    this.schedule();
  }

  /** Takes in every record the workers have published, in each ring's order. */
  sync(): void {
    const sources = this.sources;
    for (let i = 0; i < sources.length; i++) sources[i]!.drainNow();
  }

  /** The client of `hash` (its client-id hash) now has a held poll or stream. */
  held(hash: number): void {
    if (this.board === null) return;
    this.board.held(promptBucket(hash));
    this.schedule();
  }

  /** The client of `hash` no longer has one (a decrease never needs a settle: it only makes fewer polls prompt). */
  released(hash: number): void {
    this.board?.released(promptBucket(hash));
  }

  /** Message `id`, the newest issued, is queued for the client of `hash`. */
  queued(hash: number, id: number): void {
    if (this.board === null) return;
    this.board.queued(promptBucket(hash), id);
    this.schedule();
  }

  /** Messages up to `id` (not necessarily the newest) are queued for the client of `hash`. */
  queuedUpTo(hash: number, id: number): void {
    if (this.board === null) return;
    this.board.queuedUpTo(promptBucket(hash), id);
    this.schedule();
  }

  /** Group memberships changed: the members word is brought up to date at the settle. */
  membersChanged(): void {
    if (this.board !== null) this.schedule();
  }

  private schedule(): void {
    if (this.settleScheduled || this.sources.length === 0) return;
    this.settleScheduled = true;
    queueMicrotask(this.settleBound);
  }

  private settle(): void {
    this.settleScheduled = false;
    this.board?.setMembers(this.anyMembers());
    // Records taken in may change the board again (a POLL held): read until every ring is quiet.
    let taken: number;
    do {
      taken = 0;
      const sources = this.sources;
      for (let i = 0; i < sources.length; i++) taken += sources[i]!.drainNow();
    } while (taken !== 0);
  }
}
