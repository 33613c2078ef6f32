// Figures from /proc: the server's RSS and CPU time, and the kernel's socket and slab memory.
import { readFileSync } from 'node:fs';

/** Resident set size of `pid` in bytes (VmRSS: every thread of the process). */
export function readRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (m === null) throw new Error(`no VmRSS in /proc/${pid}/status: has the process exited?`);
  return Number(m[1]) * 1024;
}

export interface ResidentParts {
  /** VmRSS: everything resident, bytes. */
  rss: number;
  /** RssAnon: heap, V8 pages, thread stacks, malloc arenas: what the process allocated. */
  anon: number;
  /** RssFile: pages of the node binary and libraries, faulted in as code runs for the first time. */
  file: number;
}

/** VmRSS split into its anonymous and file-backed parts (/proc/PID/status, all threads). */
export function readResidentParts(pid: number): ResidentParts {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (m === null) throw new Error(`no ${field} in /proc/${pid}/status: has the process exited?`);
    return Number(m[1]) * 1024;
  };
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') };
}

export interface KernelMemory {
  /** Slab in /proc/meminfo, bytes: tcp_sock, inodes, files, epoll items... of every socket. */
  slab: number;
  /** TCP sockets in use (both ends of each loopback connection count). */
  tcpInUse: number;
  /** TCP socket buffer memory, bytes (sockstat "mem" is in pages). */
  tcpMem: number;
  /** MemAvailable in /proc/meminfo, bytes: how close the machine is to running out. */
  memAvailable: number;
}

export function readKernelMemory(): KernelMemory {
  const meminfo = readFileSync('/proc/meminfo', 'utf8');
  const slab = /^Slab:\s+(\d+) kB$/m.exec(meminfo);
  const available = /^MemAvailable:\s+(\d+) kB$/m.exec(meminfo);
  const sockstat = readFileSync('/proc/net/sockstat', 'utf8');
  const tcp = /^TCP: inuse (\d+) .* mem (\d+)$/m.exec(sockstat);
  if (slab === null || tcp === null) throw new Error('could not read Slab from /proc/meminfo or TCP from /proc/net/sockstat');
  return { slab: Number(slab[1]) * 1024, tcpInUse: Number(tcp[1]), tcpMem: Number(tcp[2]) * 4096, memAvailable: available === null ? 0 : Number(available[1]) * 1024 };
}

/**
 * CPU time (user + system) `pid` has used so far, in seconds, from /proc/PID/stat (utime and
 * stime, in USER_HZ ticks, which Linux fixes at 100 per second for user space).
 */
export function readCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`could not read CPU times from /proc/${pid}/stat`);
  return (utime + stime) / 100;
}
