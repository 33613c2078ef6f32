// How many clients each poll generator process holds and how fast it connects: from the flags
// when given, else from the open-files limit of the machine the bench runs on.
import type { RunnerOptions } from './runner-options.js';

/** Clients per process where the open-files limit is the development machines' 20,000. */
export const DEFAULT_PER_PROCESS = 9000;
/** Connects started per second per process there. */
export const DEFAULT_CONNECT_RATE = 3000;
/** An open-files limit at least this high (the VM's 4,000,000) lets a process hold many more. */
const LARGE_FILE_LIMIT = 100_000;
/** Clients per process under a large limit: 1,000,000 clients take 4 processes. */
const LARGE_PER_PROCESS = 250_000;
/**
 * Connects per second of all processes together under a large limit. The only such machine here
 * is the 1-vCPU VM, where server and generators share one slow CPU and keep up with
 * ~1,500-3,600 connects/s (shared/vm/README.md); faster only fills the accept queue.
 */
const LARGE_TOTAL_CONNECT_RATE = 2000;

export interface GeneratorSizing {
  perProcess: number;
  /** Connects/s per process (0: unpaced). */
  connectRate: number;
  /** Processes that `clients` clients take. */
  processes: number;
  /** How the figures were chosen, for the results file. */
  basis: string;
}

/** Sizing for `clients` polling clients under `fileLimit` (NaN: unknown) open files. */
export function sizeGenerators(options: RunnerOptions, clients: number, fileLimit: number): GeneratorSizing {
  const large = Number.isFinite(fileLimit) && fileLimit >= LARGE_FILE_LIMIT;
  const perProcess = options.perProcess ?? (large ? Math.min(LARGE_PER_PROCESS, fileLimit - 1000) : DEFAULT_PER_PROCESS);
  const processes = Math.max(1, Math.ceil(clients / perProcess));
  const connectRate = options.connectRate ?? (large ? Math.ceil(LARGE_TOTAL_CONNECT_RATE / processes) : DEFAULT_CONNECT_RATE);
  const basis = `${options.perProcess === null ? (large ? `open-files limit ${fileLimit} >= ${LARGE_FILE_LIMIT}: up to ${LARGE_PER_PROCESS}` : 'default') : '--per-process'} clients per process; ` +
    `${options.connectRate === null ? (large ? `${LARGE_TOTAL_CONNECT_RATE} connects/s in all` : 'default connect rate') : '--connect-rate'}`;
  return { perProcess, connectRate, processes, basis };
}
