// Every child process the bench starts, so that the hard time limit (and any failure) can end
// them all: by PID, and only those we started.
import type { ChildProcess } from 'node:child_process';

export class ProcessRegistry {
  private readonly children = new Set<ChildProcess>();

  track(child: ChildProcess): void {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
  }

  /** SIGKILLs every child still running; used when the time limit hits or the runner fails. */
  killAll(): void {
    for (const child of this.children) {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // Already gone between the check and the kill.
        }
      }
    }
  }

  get running(): number {
    return this.children.size;
  }
}
