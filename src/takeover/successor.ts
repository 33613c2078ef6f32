// SIGUSR2: this process starts its successor, `node` with the same node
// options, script and flags plus --takeover and this process's control
// socket. The successor inherits stdout and stderr (its ready line and logs
// go where this process's went) and runs in its own process group, so it
// outlives this one. This process only watches it: if it exits before it took
// over, that is logged, and this process goes on serving.

import { spawn, type ChildProcess } from 'node:child_process';
import { log } from '../log.js';

/** The successor's flags: `argv` (this process's flags) without --takeover and --control-socket, then both, naming `controlPath`. */
export function successorArgs(argv: readonly string[], controlPath: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--takeover') continue;
    if (arg === '--control-socket') {
      i++;
      continue;
    }
    if (arg.startsWith('--control-socket=')) continue;
    out.push(arg);
  }
  out.push('--takeover', '--control-socket', controlPath);
  return out;
}

export class Successors {
  private running: ChildProcess | null = null;

  constructor(
    private readonly controlPath: string,
    /** Whether this process has handed over (its successor then lives on by design). */
    private readonly handedOver: () => boolean,
  ) {}

  /** Starts the successor unless one is starting already. */
  start(): void {
    if (this.running !== null) {
      log(`SIGUSR2: the successor (pid ${this.running.pid}) is still taking over; ignored`);
      return;
    }
    const args = [...process.execArgv, process.argv[1]!, ...successorArgs(process.argv.slice(2), this.controlPath)];
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'], detached: true });
    } catch (err) {
      log(`SIGUSR2: cannot start the successor: ${(err as Error).message}; still serving`);
      return;
    }
    this.running = child;
    child.unref();
    log(`SIGUSR2: started the successor, pid ${child.pid}: ${process.execPath} ${args.join(' ')}`);
    child.once('error', (err) => {
      log(`SIGUSR2: the successor could not run: ${err.message}; still serving`);
      this.running = null;
    });
    child.once('exit', (code, signal) => {
      this.running = null;
      if (!this.handedOver()) log(`the successor (pid ${child.pid}) exited (code ${code}, signal ${signal}) without taking over; still serving`);
    });
  }
}
