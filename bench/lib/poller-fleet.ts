// The polling clients of one scenario, spread over as many loadgen processes as the per-process
// file limit needs, and their merged results.
import { Histogram } from './histogram.js';
import { type JsonObject, numberField, numberFields, objectField } from './json-fields.js';
import { type LoadgenProcess, startLoadgen } from './loadgen-process.js';
import type { ProcessRegistry } from './process-registry.js';
import type { WireProtocol } from './server-process.js';
import { nextSourceFlags } from './source-addresses.js';

export interface FleetSettings {
  loadgen: string;
  host: string;
  port: number;
  /** Clients per generator process at most (each is one socket; 20000 files per process here). */
  perProcess: number;
  /** Connects started per second per process (0: unlimited). */
  connectRate: number;
  /** Every process stops by itself after this many seconds. */
  maxSeconds: number;
  registry: ProcessRegistry;
  /** Long-polls (default) or event streams (GET /events): the loadgen mode of the clients. */
  mode?: 'poll' | 'sse';
  /** The server's wire (loadgen --protocol). */
  protocol: WireProtocol;
  /** Nchan only: every client subscribes to this one channel (loadgen --channel; broadcast). */
  channel?: string;
}

export interface PollerTotals {
  processes: number;
  clients: number;
  received: number;
  duplicated: number;
  gaps: number;
  foreign: number;
  connects: number;
  polls: number;
  /** CPU seconds the generator processes used (their share of the machine). */
  cpuSeconds: number;
  errors: Record<string, number>;
  /** CLOCK_MONOTONIC ns of the first and last message received by any client (0 if none). */
  firstReceiveNs: number;
  lastReceiveNs: number;
  latency: Histogram;
}

export class PollerFleet {
  private readonly processes: LoadgenProcess[] = [];
  /** The clients of each process, in the same order. */
  private readonly ranges: Array<{ first: number; count: number }> = [];
  private clientCount = 0;

  constructor(private readonly settings: FleetSettings) {}

  get clients(): number {
    return this.clientCount;
  }

  get processCount(): number {
    return this.processes.length;
  }

  /** Starts clients c<first> .. c<first+count-1>, evenly over ceil(count / perProcess) processes. */
  add(first: number, count: number): void {
    const n = Math.ceil(count / this.settings.perProcess);
    for (let i = 0, start = first; i < n; i++) {
      const size = Math.floor(count / n) + (i < count % n ? 1 : 0);
      const s = this.settings;
      const args = [s.mode ?? 'poll', '--host', s.host, '--port', String(s.port), '--clients', String(size), '--first-client', String(start), '--connect-rate', String(s.connectRate), '--max-seconds', String(Math.max(1, Math.floor(s.maxSeconds))), '--protocol', s.protocol, ...(s.channel === undefined ? [] : ['--channel', s.channel]), ...nextSourceFlags(size)];
      this.processes.push(startLoadgen(s.loadgen, args, `poll c${start}+${size}`, s.registry));
      this.ranges.push({ first: start, count: size });
      start += size;
    }
    this.clientCount += count;
  }

  /** Sum of one progress value over every process (held, received, errors, ...). */
  sum(key: string): number {
    let total = 0;
    for (const p of this.processes) total += p.progress()[key] ?? 0;
    return total;
  }

  /**
   * A snapshot of the processes whose clients lie in [first, first + count) (every process when
   * omitted; a process is in or out as a whole), merged. Each snapshot restarts those processes'
   * latency histograms, so the one returned covers what arrived since the previous snapshot.
   */
  async snapshot(first = 0, count = Infinity, timeoutMs = 30_000): Promise<PollerSnapshot> {
    const chosen = this.processes.filter((_, i) => {
      const r = this.ranges[i];
      return r !== undefined && r.first >= first && r.first + r.count <= first + count;
    });
    const lines = await Promise.all(chosen.map((p) => p.snapshot(timeoutMs)));
    return mergeSnapshots(lines);
  }

  /**
   * How many clients from `first` a snapshot must span to include every process holding one of
   * clients first .. first+count-1 (snapshot() takes whole processes only).
   */
  coveringCount(first: number, count: number): number {
    let end = first + count;
    for (const r of this.ranges) {
      if (r.first < first + count && r.first + r.count > first) end = Math.max(end, r.first + r.count);
    }
    return end - first;
  }

  /** Ends every process and merges their results; SIGKILL after `graceMs`. */
  async finish(graceMs = 10_000): Promise<PollerTotals> {
    const results = await Promise.all(this.processes.map((p) => p.finish(graceMs)));
    return mergePollResults(results);
  }
}

/** Poller counters at one moment (cumulative), merged over processes, and the latency since the previous snapshot. */
export interface PollerSnapshot {
  processes: number;
  clients: number;
  connected: number;
  held: number;
  polls: number;
  responses: number;
  emptyResponses: number;
  received: number;
  duplicated: number;
  gaps: number;
  /** CPU seconds these generator processes used so far. */
  cpuSeconds: number;
  errors: Record<string, number>;
  /** CLOCK_MONOTONIC ns of the last message any of these clients received (0: none yet). */
  lastReceiveNs: number;
  /** The lowest last sequence number of any client, how many clients are at it, and the highest. */
  seqMin: number;
  seqMinClients: number;
  seqMax: number;
  latency: Histogram;
}

export function mergeSnapshots(lines: readonly JsonObject[]): PollerSnapshot {
  const m: PollerSnapshot = {
    processes: lines.length, clients: 0, connected: 0, held: 0, polls: 0, responses: 0, emptyResponses: 0, received: 0, duplicated: 0, gaps: 0,
    cpuSeconds: 0, errors: {}, lastReceiveNs: 0, seqMin: Infinity, seqMinClients: 0, seqMax: 0, latency: new Histogram(),
  };
  for (const r of lines) {
    const where = 'poll snapshot';
    m.clients += numberField(r, 'clients', where);
    m.connected += numberField(r, 'connected', where);
    m.held += numberField(r, 'held', where);
    m.polls += numberField(r, 'polls', where);
    m.responses += numberField(r, 'responses', where);
    m.emptyResponses += numberField(r, 'empty_responses', where);
    m.received += numberField(r, 'received', where);
    m.duplicated += numberField(r, 'duplicated', where);
    m.gaps += numberField(r, 'gaps', where);
    m.cpuSeconds += numberField(r, 'cpu_seconds', where);
    for (const [k, v] of Object.entries(numberFields(objectField(r, 'errors', where)))) m.errors[k] = (m.errors[k] ?? 0) + v;
    m.lastReceiveNs = Math.max(m.lastReceiveNs, numberField(r, 'last_receive_ns', where));
    const seqMin = numberField(r, 'seq_min', where);
    const atMin = numberField(r, 'seq_min_clients', where);
    if (seqMin < m.seqMin) {
      m.seqMin = seqMin;
      m.seqMinClients = atMin;
    } else if (seqMin === m.seqMin) {
      m.seqMinClients += atMin;
    }
    m.seqMax = Math.max(m.seqMax, numberField(r, 'seq_max', where));
    m.latency.addJson(objectField(r, 'latency', where), where);
  }
  if (m.seqMin === Infinity) m.seqMin = 0;
  return m;
}

export function mergePollResults(results: readonly JsonObject[]): PollerTotals {
  const totals: PollerTotals = {
    processes: results.length, clients: 0, received: 0, duplicated: 0, gaps: 0, foreign: 0, connects: 0, polls: 0, cpuSeconds: 0,
    errors: {}, firstReceiveNs: 0, lastReceiveNs: 0, latency: new Histogram(),
  };
  for (const r of results) {
    const where = 'poll result';
    totals.clients += numberField(r, 'clients', where);
    totals.received += numberField(r, 'received', where);
    totals.duplicated += numberField(r, 'duplicated', where);
    totals.gaps += numberField(r, 'gaps', where);
    totals.foreign += numberField(r, 'foreign', where);
    totals.connects += numberField(r, 'connects', where);
    totals.polls += numberField(r, 'polls', where);
    totals.cpuSeconds += numberField(r, 'cpu_seconds', where);
    for (const [k, v] of Object.entries(numberFields(objectField(r, 'errors', where)))) totals.errors[k] = (totals.errors[k] ?? 0) + v;
    const first = numberField(r, 'first_receive_ns', where);
    if (first > 0 && (totals.firstReceiveNs === 0 || first < totals.firstReceiveNs)) totals.firstReceiveNs = first;
    totals.lastReceiveNs = Math.max(totals.lastReceiveNs, numberField(r, 'last_receive_ns', where));
    totals.latency.addJson(objectField(r, 'latency', where), where);
  }
  return totals;
}

/** Sum of the error counts. */
export function errorTotal(errors: Record<string, number>): number {
  return Object.values(errors).reduce((a, b) => a + b, 0);
}
