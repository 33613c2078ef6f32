// Every child process the bench starts, so that the hard time limit (and any failure) can end
// them all: by PID, and only those we started.
import type { ChildProcess } from 'node:child_process';

export class ProcessRegistry {
  private readonly children = new Set<ChildProcess>();
  /** Processes we started that are not our children (nginx's worker, forked by its master). */
  private readonly grandchildren = new Set<number>();

  track(child: ChildProcess): void {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
  }

  /** Also SIGKILL `pid` in killAll (until `forget`): its parent dying does not end it. */
  trackPid(pid: number): void {
    this.grandchildren.add(pid);
  }

  forget(pid: number): void {
    this.grandchildren.delete(pid);
  }

  /** SIGKILLs every child still running; used when the time limit hits or the runner fails. */
  killAll(): void {
    for (const pid of this.grandchildren) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    this.grandchildren.clear();
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
