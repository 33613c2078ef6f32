// The reply to the app op `stats` (PROTOCOL.md section 2): the one definition
// of its shape, used by the server that builds it, the client library that
// reads it, the tests and the bench.

/** One worker thread's figures, from one consistent snapshot of that thread. */
export interface ThreadStats {
  /** Open HTTP connections of this worker (held polls included). */
  readonly connections: number;
  /** Polls this worker holds; never above `connections`. */
  readonly held_polls: number;
}

/** A worker's full row as the manager reads it (see src/threads/thread-stats.ts). */
export interface ThreadCounters extends ThreadStats {
  /** Connections this worker accepted since start. */
  readonly connections_accepted: number;
  /** Connections this worker refused with 503 (--max-connections or the open-file limit) since start. */
  readonly connections_refused: number;
}

/** The manager's own figures. */
export interface ManagerStats {
  /** Clients with a held poll or queued messages. */
  readonly clients: number;
  /** Polls the manager knows to be held (trails the workers' count by the records in flight). */
  readonly held_polls: number;
  /** Messages queued and not yet acknowledged (expired ones leave within ~2 s). */
  readonly queued: number;
  /** Messages accepted, one per recipient, since start. */
  readonly sent: number;
  /** Messages written into delivery bodies, each time one goes out (a redelivery after a lost response counts again). */
  readonly delivered: number;
  /** Messages dropped because their TTL passed before acknowledgement. */
  readonly expired: number;
  /** Messages refused (queue_full or memory_full), one per recipient of the refused request. */
  readonly refused: number;
  /** Of those, refused with queue_full. */
  readonly refused_queue_full: number;
  /** Of those, refused with memory_full. */
  readonly refused_memory_full: number;
  /** Of those, refused with store_unavailable (--redis: Redis unreachable or failing). */
  readonly refused_store_unavailable: number;
  /** Bytes the memory budget counts now: queued messages and the clients they are for. */
  readonly memory_used: number;
  /** --max-memory in bytes (0: no limit). */
  readonly memory_budget: number;
  /** Groups with at least one member. */
  readonly groups: number;
  /** Memberships, over all groups. */
  readonly memberships: number;
  /** Publishes held in group logs, unexpired: one per publish however many members it is for. */
  readonly group_messages: number;
}

/** `{"op":"stats"}`'s reply. The keys after `threads` are ours, beyond PROTOCOL.md (which allows more keys). */
export interface StatsReply {
  readonly ok: true;
  /** Sum of the threads' connections. */
  readonly connections: number;
  /** Sum of the threads' held polls; never above `connections`. */
  readonly held_polls: number;
  readonly clients: number;
  readonly queued: number;
  readonly sent: number;
  readonly delivered: number;
  readonly expired: number;
  readonly refused: number;
  readonly threads: readonly ThreadStats[];
  /** The manager's count of held polls: it trails held_polls by the records in flight. */
  readonly manager_held_polls: number;
  /** Connections the HTTP side accepted since start. */
  readonly connections_accepted: number;
  /** Connections the HTTP side refused with 503 since start. */
  readonly connections_refused: number;
  /** Open app connections. */
  readonly app_connections: number;
  readonly refused_queue_full: number;
  readonly refused_memory_full: number;
  readonly refused_store_unavailable: number;
  readonly memory_used: number;
  readonly memory_budget: number;
  readonly groups: number;
  readonly memberships: number;
  readonly group_messages: number;
}

/**
 * The reply from one snapshot of every thread's row and of the manager: the
 * totals are the sums of the rows given, so they always agree with them.
 */
export function statsReply(manager: ManagerStats, rows: readonly ThreadCounters[], appConnections: number): StatsReply {
  let connections = 0;
  let heldPolls = 0;
  let accepted = 0;
  let refused = 0;
  const threads: ThreadStats[] = [];
  for (const row of rows) {
    connections += row.connections;
    heldPolls += row.held_polls;
    accepted += row.connections_accepted;
    refused += row.connections_refused;
    threads.push({ connections: row.connections, held_polls: row.held_polls });
  }
  return {
    ok: true,
    connections,
    held_polls: heldPolls,
    clients: manager.clients,
    queued: manager.queued,
    sent: manager.sent,
    delivered: manager.delivered,
    expired: manager.expired,
    refused: manager.refused,
    threads,
    manager_held_polls: manager.held_polls,
    connections_accepted: accepted,
    connections_refused: refused,
    app_connections: appConnections,
    refused_queue_full: manager.refused_queue_full,
    refused_memory_full: manager.refused_memory_full,
    refused_store_unavailable: manager.refused_store_unavailable,
    memory_used: manager.memory_used,
    memory_budget: manager.memory_budget,
    groups: manager.groups,
    memberships: manager.memberships,
    group_messages: manager.group_messages,
  };
}
