// What a takeover (src/takeover/) hands from the old process's manager to the
// new one's: the clock, the id counter, every client's unacknowledged
// messages (a group member's pending publishes among them) and every group's
// members. Held polls are not handed over: the old process answers them
// (empty, with their cursor) and the clients poll again, reaching the new one.

/** One client's unacknowledged, unexpired messages, oldest first (parallel arrays). */
export interface QueueState {
  client: string;
  /** Increasing message ids. */
  ids: number[];
  /** Each message's data: the JSON text exactly as the app sent it. */
  data: string[];
  /** Milliseconds from the state's `nowMs` until each message expires (> 0, non-decreasing). */
  expiresInMs: number[];
}

/** One group's members (several GroupState of one name add up). */
export interface GroupState {
  group: string;
  members: string[];
}

export interface ManagerState {
  /** The exporting manager's clock when the state was taken, ms since the Unix epoch. */
  nowMs: number;
  /** Every id the exporting manager issued is at most this. */
  lastIssued: number;
  queues: QueueState[];
  /** Every group's members; absent from a process without groups (taken as none). */
  groups?: GroupState[];
}
