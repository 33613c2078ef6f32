// The new process's side of a takeover (--takeover): it connects to the old
// process's control socket, learns its ports, and once its own HTTP workers
// listen it asks for the state (TAKE), imports it into its manager as it
// arrives, binds the app port and says so (IMPORTED). See ./old-side.ts for
// the other half and docs/ARCHITECTURE.md for why the order is safe.

import type { Socket } from 'node:net';
import { log } from '../log.js';
import { checkPathLength, checkSocketOwner, connectUnix } from './control-path.js';
import { frameJson, frameName, FrameReader, FrameType, jsonFrame, TAKEOVER_PROTOCOL, TAKEOVER_VERSION, type Frame } from './frames.js';
import { hasExited } from './process-alive.js';
import { StateDecoder, type StateCounts, type StateSink } from './state-stream.js';

/** How long the old process may take to answer HELLO. */
export const HELLO_TIMEOUT_MS = 10_000;
/** How long the state stream may stall before the takeover is given up. */
export const STATE_IDLE_MS = 30_000;
/** How long to wait for RELEASED after IMPORTED before making the control socket anyway. */
const RELEASED_TIMEOUT_MS = 10_000;
/** After the control connection breaks, how long the old process gets to finish exiting before it counts as alive. */
const EXIT_GRACE_MS = 2000;

/** A takeover that cannot go on; the message says why and what the old process does now. */
export class TakeoverError extends Error {
  override name = 'TakeoverError';
}

/** What the old process said about itself (INFO). */
export interface OldProcess {
  pid: number;
  httpPort: number;
  appPort: number;
}

export interface ReceivedState extends StateCounts {
  /** False when the old process died before END: this is what came before, the rest is lost as in a crash. */
  complete: boolean;
}

export class TakeoverClient {
  readonly old: OldProcess;
  /** When TAKE was written (the old process stops taking sends as it reads it); 0 before. */
  takenAt = 0;
  private readonly socket: Socket;
  private readonly reader = new FrameReader();
  private readonly frames: Frame[] = [];
  private closed: Error | null = null;
  private wake: (() => void) | null = null;

  private constructor(socket: Socket, old: OldProcess) {
    this.socket = socket;
    this.old = old;
  }

  /** Connects and introduces itself (HELLO); resolves once the old process answered INFO. */
  static async connect(path: string): Promise<TakeoverClient> {
    checkPathLength(path);
    try {
      checkSocketOwner(path);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ENOENT') throw new TakeoverError(`nothing to take over: no control socket at ${path}; is the old process running, with this --control-socket (or these ports)?`);
      throw new TakeoverError((err as Error).message);
    }
    let socket: Socket;
    try {
      socket = await connectUnix(path);
    } catch (err) {
      throw new TakeoverError(`cannot connect to the control socket ${path}: ${(err as Error).message} (a process that died may have left it; nothing to take over)`);
    }
    const client = new TakeoverClient(socket, { pid: 0, httpPort: 0, appPort: 0 });
    client.listen();
    socket.write(jsonFrame(FrameType.Hello, { protocol: TAKEOVER_PROTOCOL, version: TAKEOVER_VERSION, pid: process.pid }));
    const f = await client.next(HELLO_TIMEOUT_MS, 'INFO');
    if (f.type === FrameType.Refuse) {
      client.close();
      throw new TakeoverError(`the old process refused: ${String(frameJson(f).reason)}; it goes on serving`);
    }
    if (f.type !== FrameType.Info) {
      client.close();
      throw new TakeoverError(`the old process answered ${frameName(f.type)} instead of INFO`);
    }
    const info = frameJson(f);
    if (info.protocol !== TAKEOVER_PROTOCOL || info.version !== TAKEOVER_VERSION) {
      client.close();
      throw new TakeoverError(`the old process speaks state stream version ${JSON.stringify(info.version)}, this one ${TAKEOVER_VERSION}; it goes on serving`);
    }
    const { pid, httpPort, appPort } = info;
    if (typeof pid !== 'number' || typeof httpPort !== 'number' || typeof appPort !== 'number') {
      client.close();
      throw new TakeoverError('the old process sent an INFO without pid and ports');
    }
    (client as { old: OldProcess }).old = { pid, httpPort, appPort };
    return client;
  }

  /**
   * Asks for the state (TAKE) and imports it into `sink` as it arrives.
   * Resolves when END came and checked out; or, when the old process died
   * before END, with what came (complete: false). Rejects (TakeoverError) when
   * the stream broke or was refused while the old process lives: it serves again.
   */
  async receiveState(sink: StateSink): Promise<ReceivedState> {
    this.socket.write(jsonFrame(FrameType.Take, {}));
    this.takenAt = Date.now();
    const decoder = new StateDecoder(sink);
    for (;;) {
      let f: Frame;
      try {
        f = await this.next(STATE_IDLE_MS, 'the state');
      } catch (err) {
        if (this.closed !== null && (await hasExited(this.old.pid, EXIT_GRACE_MS))) {
          const got = decoder.received;
          log(
            `takeover: the old process (pid ${this.old.pid}) died before it sent all of its state: ` +
              `${got.clients} queues (${got.messages} messages) of ${decoder.begin?.clients ?? '?'} (${decoder.begin?.messages ?? '?'}) came; ` +
              'serving with those, the rest is lost as in a crash',
          );
          return { ...got, complete: false };
        }
        this.close();
        throw new TakeoverError(`${(err as Error).message}; the old process (pid ${this.old.pid}) lives and serves again`);
      }
      if (f.type === FrameType.Refuse) {
        this.close();
        throw new TakeoverError(`the old process gave up: ${String(frameJson(f).reason)}`);
      }
      let done: boolean;
      try {
        done = decoder.frame(f);
      } catch (err) {
        this.abort(`the state stream is broken: ${(err as Error).message}`);
        throw new TakeoverError(`the state stream is broken: ${(err as Error).message}; the old process serves again`);
      }
      if (done) return { ...decoder.received, complete: true };
    }
  }

  /**
   * The app port is bound: tells the old process (IMPORTED), which closes its
   * control socket (RELEASED), answers its held polls and exits. Resolves once
   * the control socket is free for this process (RELEASED, the connection
   * closed, or a timeout).
   */
  async commit(): Promise<void> {
    if (this.closed === null) this.socket.write(jsonFrame(FrameType.Imported, { pid: process.pid }));
    try {
      const f = await this.next(RELEASED_TIMEOUT_MS, 'RELEASED');
      if (f.type !== FrameType.Released) log(`takeover: the old process answered IMPORTED with ${frameName(f.type)}`);
    } catch {
      // Closed (it exited) or slow: its control socket is gone or soon will be.
    }
    this.close();
  }

  /** Gives up after TAKE (tells the old process, which serves again). */
  abort(reason: string): void {
    if (this.closed === null) this.socket.end(jsonFrame(FrameType.Abort, { reason }));
    this.closed ??= new Error('aborted');
  }

  close(): void {
    this.closed ??= new Error('closed');
    this.socket.destroy();
  }

  private listen(): void {
    this.socket.on('data', (chunk: Buffer) => {
      this.reader.push(chunk);
      try {
        for (let f = this.reader.next(); f !== null; f = this.reader.next()) this.frames.push(f);
      } catch (err) {
        this.closed = err as Error;
        this.socket.destroy();
      }
      this.notify();
    });
    this.socket.on('error', (err) => {
      this.closed ??= err;
    });
    this.socket.on('close', () => {
      this.closed ??= new Error('the old process closed the control connection');
      this.notify();
    });
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /** The next frame; rejects when the connection is gone (after the frames that came) or after `timeoutMs` without one. */
  private async next(timeoutMs: number, what: string): Promise<Frame> {
    for (;;) {
      const f = this.frames.shift();
      if (f !== undefined) return f;
      if (this.closed !== null) throw new TakeoverError(`the control connection ended while waiting for ${what} (${this.closed.message})`);
      const arrived = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      if (!arrived) throw new TakeoverError(`nothing from the old process for ${timeoutMs / 1000} s while waiting for ${what}`);
    }
  }
}
