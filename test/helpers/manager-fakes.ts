// Test doubles for the manager: a clock that moves only when told, and worker
// ports that record each delivery and release instead of writing a ring record.
import type { WorkerPort } from '../../src/manager/worker-port.js';
import { pollBody } from '../../src/protocol/poll-body.js';

export class FakeClock {
  ms: number;
  constructor(startMs = 1_700_000_000_000) {
    this.ms = startMs;
  }
  readonly now = (): number => this.ms;
  /** The manager's thread sleep (ids a whole lead ahead of the clock): time passes, nothing blocks. */
  readonly sleep = (ms: number): void => {
    this.slept += ms;
    this.ms += ms;
  };
  /** Milliseconds the manager slept waiting for the clock. */
  slept = 0;
  advance(ms: number): void {
    this.ms += ms;
  }
}

export interface Delivery {
  worker: number;
  handle: number;
  /** The delivered body, or RELEASED. */
  body: string;
}

/**
 * The body of a recorded release: the worker answers that poll empty with the
 * cursor it asked with, which the worker keeps (test/worker-held-polls.ts).
 */
export const RELEASED = '(released: answered empty by its worker with its own cursor)';

export class FakeLinks {
  readonly links: WorkerPort[];
  private deliveries: Delivery[] = [];
  constructor(workers: number) {
    this.links = Array.from({ length: workers }, (_, worker) => ({
      deliver: (handle: number, body: string) => {
        this.deliveries.push({ worker, handle, body });
      },
      release: (handle: number) => {
        this.deliveries.push({ worker, handle, body: RELEASED });
      },
    }));
  }
  /** The deliveries since the last take(), oldest first. */
  take(): Delivery[] {
    return this.deliveries.splice(0);
  }
}

/** The body a delivery of these messages has. */
export function bodyOf(cursor: number, messages: string[]): string {
  return pollBody(cursor, messages.join(','));
}
