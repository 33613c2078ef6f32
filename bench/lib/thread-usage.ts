// CPU time and wake-ups of each thread of a server over one measured phase, from
// /proc/PID/task/TID/schedstat (time on a CPU, ns; /stat's utime + stime in 10 ms ticks where
// schedstat is missing: too coarse for 100 msgs/s) and .../status (voluntary_ctxt_switches:
// each is the thread going to sleep and being woken again), with a name for each thread's role.
import { readFileSync, readdirSync } from 'node:fs';
import type { TargetName } from './server-process.js';

/** Linux fixes USER_HZ, the unit of utime/stime, at 100 per second for user space. */
const TICKS_PER_SECOND = 100;
/** x86-64 syscall numbers of epoll_wait, epoll_pwait, epoll_pwait2: a thread running an event loop. */
const EPOLL_SYSCALLS = new Set([232, 281, 441]);

export interface ThreadSample {
  pid: number;
  tid: number;
  comm: string;
  /** Time on a CPU, seconds (schedstat; utime + stime where it is missing). */
  cpuSeconds: number;
  voluntary: number;
  involuntary: number;
}

/** comm and utime + stime (seconds) from the text of /proc/PID/task/TID/stat. */
export function parseTaskStat(text: string): { comm: string; cpuSeconds: number } {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`not a /proc stat line: "${text.slice(0, 80)}"`);
  const fields = text.slice(close + 2).trim().split(' ');
  // Fields after the name start at field 3 (state): utime is field 14, stime 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`no utime/stime in "${text.slice(0, 80)}"`);
  return { comm: text.slice(open + 1, close), cpuSeconds: (utime + stime) / TICKS_PER_SECOND };
}

/** voluntary_ctxt_switches and nonvoluntary_ctxt_switches from /proc/PID/task/TID/status. */
export function parseTaskStatus(text: string): { voluntary: number; involuntary: number } {
  const v = /^voluntary_ctxt_switches:\s+(\d+)$/m.exec(text);
  const n = /^nonvoluntary_ctxt_switches:\s+(\d+)$/m.exec(text);
  if (v?.[1] === undefined || n?.[1] === undefined) throw new Error('no *_ctxt_switches lines in a /proc status file');
  return { voluntary: Number(v[1]), involuntary: Number(n[1]) };
}

/** Seconds on a CPU from the text of /proc/PID/task/TID/schedstat ("run_ns wait_ns slices"). */
export function parseSchedstat(text: string): number {
  const ns = Number(text.trim().split(' ')[0]);
  if (!Number.isFinite(ns) || text.trim() === '') throw new Error(`not a schedstat line: "${text.slice(0, 80)}"`);
  return ns / 1e9;
}

function readSchedstat(pid: number, tid: string): number | null {
  try {
    return parseSchedstat(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8'));
  } catch {
    return null;
  }
}

/** Every thread of `pids` now (a thread that ends while it is read is left out). */
export function readThreads(pids: readonly number[]): ThreadSample[] {
  const out: ThreadSample[] = [];
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const t of tids) {
      try {
        const stat = parseTaskStat(readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8'));
        const status = parseTaskStatus(readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8'));
        const onCpu = readSchedstat(pid, t);
        out.push({ pid, tid: Number(t), ...stat, cpuSeconds: onCpu ?? stat.cpuSeconds, ...status });
      } catch {
        // The thread ended between readdir and read.
      }
    }
  }
  return out;
}

/** TIDs of `pid`'s threads blocked in epoll now: the threads that run an event loop. */
export function epollThreads(pid: number): number[] {
  const out: number[] = [];
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      const nr = Number(readFileSync(`/proc/${pid}/task/${t}/syscall`, 'utf8').split(' ')[0]);
      if (EPOLL_SYSCALLS.has(nr)) out.push(Number(t));
    } catch {
      // Ended, or syscall not readable: not an event loop we can name.
    }
  }
  return out.sort((a, b) => a - b);
}

/**
 * Names each thread's role, from a look at the idle server right after it started:
 * MegaComet: the main thread is the manager. Besides it, N + 1 threads wait in epoll: Node's
 * platform task-scheduler loop (created at process start, so the lowest TID of them) and the N
 * worker threads, in creation (TID) order, which is worker index order (src/server.ts spawns
 * worker 0, then 1..N-1 in order). Everything else (V8 platform workers, libuv's pool) is
 * "helpers". Until all N + 1 are seen waiting, the workers are not named (they count as
 * helpers). Baseline: "main" and helpers. Nchan: nginx's master and its worker process.
 */
export function threadRoles(target: TargetName, pids: readonly number[], epollTids: readonly number[], workerThreads: number | null): Map<number, string> {
  const roles = new Map<number, string>();
  if (target === 'nchan') {
    const [master, worker] = pids;
    if (master !== undefined) roles.set(master, 'nginx master');
    if (worker !== undefined) roles.set(worker, 'nginx worker');
    return roles;
  }
  const main = pids[0];
  if (main === undefined) return roles;
  if (workerThreads === null) {
    roles.set(main, 'main');
    return roles;
  }
  roles.set(main, 'manager (main)');
  const loops = [...epollTids].filter((t) => t !== main).sort((a, b) => a - b);
  if (loops.length === workerThreads + 1) {
    loops.slice(1).forEach((tid, i) => roles.set(tid, `worker ${i}`));
  }
  return roles;
}

export interface ThreadUse {
  role: string;
  /** Threads lumped under the role (helpers: several). */
  threads: number;
  cpuSeconds: number;
  voluntary: number;
  involuntary: number;
}

export interface PhaseUsage {
  /** Per role, in a stable order: manager/main, workers by index, the rest, helpers last. */
  byRole: ThreadUse[];
  total: ThreadUse;
}

function roleOrder(role: string): [number, number] {
  if (role === 'manager (main)' || role === 'main' || role === 'nginx master') return [0, 0];
  const w = /^worker (\d+)$/.exec(role);
  if (w?.[1] !== undefined) return [1, Number(w[1])];
  if (role === 'helpers') return [3, 0];
  return [2, 0];
}

/** What each role used between two readings (a thread born in between counts from zero). */
export function phaseUsage(before: readonly ThreadSample[], after: readonly ThreadSample[], roles: ReadonlyMap<number, string>): PhaseUsage {
  const earlier = new Map(before.map((s) => [s.tid, s]));
  const byRole = new Map<string, ThreadUse>();
  const total: ThreadUse = { role: 'total', threads: 0, cpuSeconds: 0, voluntary: 0, involuntary: 0 };
  for (const s of after) {
    const b = earlier.get(s.tid);
    const role = roles.get(s.tid) ?? 'helpers';
    const use = byRole.get(role) ?? { role, threads: 0, cpuSeconds: 0, voluntary: 0, involuntary: 0 };
    const cpu = s.cpuSeconds - (b?.cpuSeconds ?? 0);
    const vol = s.voluntary - (b?.voluntary ?? 0);
    const inv = s.involuntary - (b?.involuntary ?? 0);
    use.threads++;
    use.cpuSeconds += cpu;
    use.voluntary += vol;
    use.involuntary += inv;
    byRole.set(role, use);
    total.threads++;
    total.cpuSeconds += cpu;
    total.voluntary += vol;
    total.involuntary += inv;
  }
  const sorted = [...byRole.values()].sort((a, b) => {
    const [ka, ia] = roleOrder(a.role);
    const [kb, ib] = roleOrder(b.role);
    return ka - kb || ia - ib || a.role.localeCompare(b.role);
  });
  return { byRole: sorted, total };
}

/** Per delivered message: CPU microseconds and wake-ups of each role and of the whole server. */
export function perMessage(usage: PhaseUsage, messages: number): Array<{ role: string; threads: number; cpuUs: number | null; wakeups: number | null }> {
  const per = (u: ThreadUse): { role: string; threads: number; cpuUs: number | null; wakeups: number | null } => ({
    role: u.role,
    threads: u.threads,
    cpuUs: messages > 0 ? (u.cpuSeconds * 1e6) / messages : null,
    wakeups: messages > 0 ? u.voluntary / messages : null,
  });
  return [...usage.byRole.map(per), per(usage.total)];
}

/**
 * The roles of a freshly started server's threads. Its event-loop threads are told apart by
 * waiting in epoll, so this looks again (up to ~1 s) until every worker is seen waiting.
 */
export async function identifyRoles(target: TargetName, pids: readonly number[], workerThreads: number | null): Promise<Map<number, string>> {
  let roles = new Map<number, string>();
  for (let attempt = 0; attempt < 40; attempt++) {
    const main = pids[0];
    const loops = target === 'nchan' || main === undefined ? [] : epollThreads(main);
    roles = threadRoles(target, pids, loops, workerThreads);
    if (workerThreads === null || roles.size >= workerThreads + 1) return roles;
    await new Promise((r) => setTimeout(r, 50));
  }
  return roles;
}
