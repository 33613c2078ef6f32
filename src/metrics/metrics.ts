// The Prometheus metrics of the process (docs/OPERATIONS.md, Metrics, lists them):
// a prom-client registry on the main thread whose values are all read at
// scrape time from what already exists (the manager's stats(), the workers'
// thread-stats rows, the rings' shared words, the latency histogram's typed
// array). Nothing here runs per message: the hot path only keeps counters it
// kept before, plus the histogram's counts (src/manager/latency-histogram.ts).
//
// prom-client stays on this thread: workers publish figures in their
// thread-stats row (src/threads/thread-stats.ts), and the registry reads the
// rows; no worker loads prom-client.

import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { HistogramSnapshot, LatencyHistogram } from '../manager/latency-histogram.js';
import type { RingOccupancy } from '../manager/worker-port.js';
import type { ManagerStats } from '../protocol/stats.js';
import { LoopLag } from '../threads/loop-lag.js';
import type { ThreadRow } from '../threads/thread-stats.js';

/** Where each figure comes from; read once per scrape. */
export interface MetricsSources {
  manager: {
    stats(): ManagerStats;
    queuedDataSize(): number;
    readonly deliveryLatency: LatencyHistogram;
  };
  /** Every worker's thread-stats row, index = worker. */
  threadRows(): readonly ThreadRow[];
  /** Open app connections. */
  appConnections(): number;
  /** Every worker's rings, index = worker. */
  rings(): readonly RingOccupancy[];
}

/**
 * Left out of prom-client's default metrics: it lists /proc/self/fd on every
 * scrape, a million entries on this thread (the manager's) at a million held
 * polls. megacomet_connections counts the sockets instead.
 */
const SKIPPED_DEFAULT_METRICS = ['process_open_fds'];

/** The label value of the main thread (the manager, the app server, this endpoint) beside the worker indexes. */
export const MAIN_THREAD_LABEL = 'main';

/** One reading of every source, shared by every metric of one scrape. */
interface Reading {
  manager: ManagerStats;
  queuedData: number;
  rows: readonly ThreadRow[];
  appConnections: number;
  rings: readonly RingOccupancy[];
}

export class Metrics {
  readonly registry = new Registry();
  private readonly sources: MetricsSources;
  private readonly mainLag = new LoopLag();
  /** The reading of the scrape in progress (the collect() callbacks run inside registry.metrics()). */
  private reading: Reading | undefined;

  constructor(sources: MetricsSources) {
    this.sources = sources;
    const registers = [this.registry];
    const read = (): Reading => {
      if (this.reading === undefined) throw new Error('metrics are read only through Metrics.scrape()');
      return this.reading;
    };
    const gauge = (name: string, help: string, value: (x: Reading) => number): void => {
      new Gauge({
        name, help, registers,
        collect() {
          this.set(value(read()));
        },
      });
    };
    const counter = (name: string, help: string, value: (x: Reading) => number): void => {
      new Counter({
        name, help, registers,
        collect() {
          this.reset();
          this.inc(value(read()));
        },
      });
    };
    const threadGauge = (name: string, help: string, value: (row: ThreadRow) => number): void => {
      new Gauge({
        name, help, registers, labelNames: ['thread'],
        collect() {
          this.reset();
          read().rows.forEach((row, i) => this.set({ thread: String(i) }, value(row)));
        },
      });
    };
    const threadCounter = (name: string, help: string, value: (row: ThreadRow) => number): void => {
      new Counter({
        name, help, registers, labelNames: ['thread'],
        collect() {
          this.reset();
          read().rows.forEach((row, i) => this.inc({ thread: String(i) }, value(row)));
        },
      });
    };
    const ringGauge = (name: string, help: string, value: (ring: RingOccupancy, toWorker: boolean) => number): void => {
      new Gauge({
        name, help, registers, labelNames: ['thread', 'direction'],
        collect() {
          this.reset();
          read().rings.forEach((ring, i) => {
            this.set({ thread: String(i), direction: 'to_manager' }, value(ring, false));
            this.set({ thread: String(i), direction: 'to_worker' }, value(ring, true));
          });
        },
      });
    };

    // Connections and polls, per worker thread (sum() them for the process).
    threadGauge('megacomet_connections', 'Open HTTP connections (held polls included), per worker thread.', (row) => row.connections);
    threadGauge('megacomet_held_polls', 'Polls held, per worker thread.', (row) => row.held_polls);
    threadCounter('megacomet_connections_accepted_total', 'HTTP connections accepted, per worker thread.', (row) => row.connections_accepted);
    threadCounter(
      'megacomet_connections_refused_total',
      'HTTP connections refused with 503 (--max-connections or the open-file limit), per worker thread.',
      (row) => row.connections_refused,
    );

    // The manager: clients, queues, memory, apps.
    gauge('megacomet_clients', 'Clients with a held poll or queued messages.', (x) => x.manager.clients);
    gauge('megacomet_queued_messages', 'Messages queued and not yet acknowledged, one per recipient.', (x) => x.manager.queued);
    gauge(
      'megacomet_queued_data_bytes',
      "Size of the queued messages' data, once per recipient (UTF-16 code units: one per byte of ASCII JSON).",
      (x) => x.queuedData,
    );
    gauge('megacomet_memory_used_bytes', 'Bytes the --max-memory budget counts now: queued messages and the clients they are for.', (x) => x.manager.memory_used);
    gauge('megacomet_memory_budget_bytes', '--max-memory in bytes (0: no limit).', (x) => x.manager.memory_budget);
    gauge('megacomet_app_connections', 'Open app connections.', (x) => x.appConnections);
    gauge('megacomet_groups', 'Groups with at least one member.', (x) => x.manager.groups);
    gauge('megacomet_group_memberships', 'Memberships over all groups.', (x) => x.manager.memberships);
    gauge('megacomet_group_messages', 'Unexpired publishes held in group logs, one per publish however many members it is for.', (x) => x.manager.group_messages);

    // Messages.
    counter('megacomet_messages_sent_total', 'Messages accepted from apps, one per recipient.', (x) => x.manager.sent);
    counter(
      'megacomet_messages_delivered_total',
      'Messages written into delivery bodies, each time one goes out (a redelivery counts again).',
      (x) => x.manager.delivered,
    );
    counter('megacomet_messages_expired_total', 'Messages dropped because their TTL passed before they were acknowledged.', (x) => x.manager.expired);
    new Counter({
      name: 'megacomet_messages_refused_total',
      help: 'Messages refused, one per recipient of the refused request, by reason.',
      labelNames: ['reason'],
      registers,
      collect() {
        const m = read().manager;
        this.reset();
        this.inc({ reason: 'queue_full' }, m.refused_queue_full);
        this.inc({ reason: 'memory_full' }, m.refused_memory_full);
        this.inc({ reason: 'store_unavailable' }, m.refused_store_unavailable);
      },
    });
    this.registry.registerMetric(
      histogramMetric(
        'megacomet_delivery_latency_seconds',
        "Time from the manager accepting a message (the app's ok) to the manager writing it into a delivery body, " +
          'once per delivery (0 for a message sent to a held poll).',
        () => sources.manager.deliveryLatency.snapshot(),
      ),
    );

    // Threads: event-loop lag and the rings between the workers and the manager.
    const mainLag = this.mainLag;
    new Gauge({
      name: 'megacomet_event_loop_lag_seconds',
      help: `Largest event-loop lag in the last 10 s (how late a 10 ms timer fired), per thread: the worker index, or ${MAIN_THREAD_LABEL}.`,
      labelNames: ['thread'],
      registers,
      collect() {
        this.reset();
        read().rows.forEach((row, i) => this.set({ thread: String(i) }, row.event_loop_lag_us / 1e6));
        this.set({ thread: MAIN_THREAD_LABEL }, mainLag.maxMs() / 1000);
      },
    });
    ringGauge(
      'megacomet_ring_used_bytes',
      'Bytes in use in the rings between each worker and the manager: to_manager holds POLL/GONE records, to_worker DELIVER/RELEASE records, not yet read.',
      (ring, toWorker) => (toWorker ? ring.toWorker : ring.toManager),
    );
    ringGauge('megacomet_ring_capacity_bytes', "Each ring's size in bytes.", (ring) => ring.capacity);
    new Gauge({
      name: 'megacomet_ring_backlog_bytes',
      help: "Bytes of records to a worker waiting in the manager's overflow list for room in that worker's ring.",
      labelNames: ['thread'],
      registers,
      collect() {
        this.reset();
        read().rings.forEach((ring, i) => this.set({ thread: String(i) }, ring.toWorkerBacklog));
      },
    });

    // The process: CPU, memory, the main thread's heap and GC (prom-client's standard set).
    collectDefaultMetrics({ register: this.registry });
    for (const name of SKIPPED_DEFAULT_METRICS) this.registry.removeSingleMetric(name);
  }

  /** Starts measuring the main thread's event-loop lag. */
  start(): void {
    this.mainLag.start();
  }

  stop(): void {
    this.mainLag.stop();
  }

  /** The Content-Type of scrape()'s text (Prometheus text format 0.0.4). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The text exposition of every metric, all from one reading of every source. */
  async scrape(): Promise<string> {
    const s = this.sources;
    this.reading = {
      manager: s.manager.stats(),
      queuedData: s.manager.queuedDataSize(),
      rows: s.threadRows(),
      appConnections: s.appConnections(),
      rings: s.rings(),
    };
    // Every collect() runs synchronously inside this call, before its first await.
    return this.registry.metrics();
  }
}

/**
 * A histogram read from a LatencyHistogram's counts at scrape time, in the
 * shape prom-client's registry formats (what its own Histogram.get() returns).
 * Its own Histogram would have to be fed one observe() per message instead.
 */
function histogramMetric(name: string, help: string, snapshot: () => HistogramSnapshot): Metric {
  const collector = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    reset(): void {},
    async get() {
      const s = snapshot();
      const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
      s.bounds.forEach((bound, i) => {
        values.push({ labels: { le: bound === Infinity ? '+Inf' : bound }, value: s.cumulative[i]!, metricName: `${name}_bucket` });
      });
      values.push({ labels: {}, value: s.sumSeconds, metricName: `${name}_sum` });
      values.push({ labels: {}, value: s.count, metricName: `${name}_count` });
      return { name, help, type: 'histogram', values, aggregator: 'sum' };
    },
  };
  return collector as unknown as Metric;
}
