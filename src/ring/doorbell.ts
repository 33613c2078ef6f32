// Doorbells for the rings (native/doorbell.h says why they replace Atomics.waitAsync): the
// owner of a ring makes one per reader with createDoorbell() and closes it with
// closeDoorbell() once both threads are done; the writer rings it, the reader watches it.
// ring.ts itself stays free of the addon: it is handed a RingBell and a BellWatch.
import { loadAddon } from '../engine/binding.js';

/** The writer's end: wakes the reader. */
export interface RingBell {
  ring(): void;
}

/** The reader's end: calls back on the reader's thread after rings, and may keep that thread alive. */
export interface BellWatch {
  keepAlive(on: boolean): void;
  close(): void;
}

/** Makes a BellWatch on this thread calling `onRing`. */
export type WatchBell = (onRing: () => void) => BellWatch;

/** The doorbells of one worker's two rings, each watched by that ring's reader. */
export interface RingDoorbells {
  /** Watched by the manager, rung by the worker. */
  readonly toManager: number;
  /** Watched by the worker, rung by the manager. */
  readonly fromManager: number;
}

/** A new doorbell's fd. */
export function createDoorbell(): number {
  return loadAddon().createDoorbell();
}

/** Closes a doorbell; only once neither thread rings nor watches it. */
export function closeDoorbell(fd: number): void {
  loadAddon().closeDoorbell(fd);
}

/** The writer's end of doorbell `fd`. */
export function bellOf(fd: number): RingBell {
  const addon = loadAddon();
  return { ring: () => addon.ringDoorbell(fd) };
}

/** The reader's end of doorbell `fd`, to watch on the calling thread. */
export function watcherOf(fd: number): WatchBell {
  const addon = loadAddon();
  return (onRing) => new addon.DoorbellWatcher(fd, onRing);
}
