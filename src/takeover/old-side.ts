// The running (old) process's side of a takeover: it listens on the control
// socket, and when a new process asks (HELLO, then TAKE) it stops taking
// sends, streams its state, and then either hands over (the new process has
// the app port: IMPORTED) and drains, or resumes serving as before.
// docs/ARCHITECTURE.md, "Restart without losing a message", has the ordering
// argument this code follows; the rules that matter here:
//   - no send is taken between the snapshot and the end of the session: the
//     app port and every app connection are closed first, in the same tick;
//   - the app port decides who serves: this process resumes only by binding
//     it again, and the new process commits only by binding it;
//   - one session at a time; a second connection is refused with a reason.

import type { Server, Socket } from 'node:net';
import { log } from '../log.js';
import type { ManagerState } from '../manager/manager-state.js';
import { listenUnix } from './control-path.js';
import { isAlive } from './process-alive.js';
import { frameJson, frameName, FrameReader, FrameType, jsonFrame, TAKEOVER_PROTOCOL, TAKEOVER_VERSION, type Frame } from './frames.js';
import { stateFrames } from './state-stream.js';

/** How long a session may go without progress (no HELLO/TAKE, no write taken by the peer, no IMPORTED) before it is given up. */
export const SESSION_IDLE_MS = 30_000;
/** While the app port cannot be bound again after a failed handover, it is retried this often. */
const REBIND_RETRY_MS = 1000;
/** The app port found taken while the new process lives this many times, this far apart, means that process bound it. */
const PEER_HOLDS_PORT_CHECKS = 3;
const PEER_HOLDS_PORT_INTERVAL_MS = 250;

/** What the old side needs from the running server (src/server.ts). */
export interface HandoverHost {
  readonly httpPort: number;
  readonly appPort: number;
  /** Closes the app port and every app connection after answering the lines already read: no send is taken after this returns. */
  stopSends(): void;
  /** Binds the app port again and takes sends; rejects with the listen error. */
  resumeSends(): Promise<void>;
  /** The manager's state now (queues, ids, clock). */
  exportState(): ManagerState;
  /** The new process serves now: answer the held polls, stop, exit 0. */
  handedOver(newPid: number): void;
}

export interface ControlServer {
  readonly path: string;
  /** Stops listening (the socket file is removed) and ends any session that has not taken over yet. */
  close(): Promise<void>;
}

export async function startControlServer(path: string, host: HandoverHost): Promise<ControlServer> {
  let session: Session | null = null;
  let closed = false;
  let listener: Server;
  // Not waiting for close's callback, which comes only once every connection (the session's too) has ended:
  // the listening socket and its file are gone as close() returns (libuv unlinks the path in uv_close).
  const closeListener = async (): Promise<void> => {
    if (listener.listening) listener.close();
  };
  const onConnection = (socket: Socket): void => {
    if (session !== null && session.active) {
      const reason = `a takeover by pid ${session.peerPid ?? '?'} is already running`;
      log(`control socket: refused a second takeover request: ${reason}`);
      socket.on('error', () => undefined);
      socket.end(jsonFrame(FrameType.Refuse, { reason }));
      return;
    }
    session = new Session(socket, host, closeListener);
  };
  listener = await listenUnix(path, onConnection);
  return {
    path,
    async close() {
      if (closed) return;
      closed = true;
      session?.cancel('this process is stopping', false);
      await closeListener();
    },
  };
}

class Session {
  ended = false;
  /** TAKE came: sends are stopped until the session ends. */
  taking = false;
  peerPid: number | null = null;
  private readonly reader = new FrameReader();
  private timer: NodeJS.Timeout | null = null;
  private stateSent = false;
  private committed = false;
  /** The new process said it gave up (ABORT): it does not hold the app port, whatever holds it. */
  private aborted = false;
  /** Serve again when the session ends without IMPORTED (not when this process is stopping anyway). */
  private resumeAfter = true;
  /** Binding the app port again after a failed handover (sends are still stopped). */
  private resuming = false;

  constructor(
    private readonly socket: Socket,
    private readonly host: HandoverHost,
    private readonly closeListener: () => Promise<void>,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => this.onClose());
    this.arm();
  }

  /** Whether this session still holds the control socket: until it ended, and while sends are being resumed after it. */
  get active(): boolean {
    return !this.ended || this.resuming;
  }

  /** Ends a session that has not handed over (this process stops, or no progress); `resume`: serve again afterwards. */
  cancel(why: string, resume = true): void {
    if (this.ended || this.committed) return;
    this.resumeAfter = resume;
    log(`takeover${this.who()}: given up: ${why}`);
    this.socket.destroy();
  }

  private who(): string {
    return this.peerPid === null ? '' : ` by pid ${this.peerPid}`;
  }

  /** (Re)starts the no-progress timer. */
  private arm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.cancel(`no progress for ${SESSION_IDLE_MS / 1000} s`), SESSION_IDLE_MS);
    this.timer.unref();
  }

  private onData(chunk: Buffer): void {
    if (this.ended) return;
    this.reader.push(chunk);
    try {
      for (let f = this.reader.next(); f !== null && !this.ended; f = this.reader.next()) this.onFrame(f);
    } catch (err) {
      this.refuse(`bad frame from the new process: ${(err as Error).message}`);
    }
  }

  private onFrame(f: Frame): void {
    this.arm();
    if (this.peerPid === null) {
      if (f.type !== FrameType.Hello) return this.refuse(`expected HELLO, got ${frameName(f.type)}`);
      const hello = frameJson(f);
      this.peerPid = typeof hello.pid === 'number' ? hello.pid : -1;
      if (hello.protocol !== TAKEOVER_PROTOCOL) return this.refuse(`not a takeover client (protocol ${JSON.stringify(hello.protocol)})`);
      if (hello.version !== TAKEOVER_VERSION) {
        return this.refuse(`state stream version ${JSON.stringify(hello.version)} is not this process's version ${TAKEOVER_VERSION}; run the same release, or stop this one`);
      }
      log(`takeover requested by pid ${this.peerPid}`);
      this.socket.write(
        jsonFrame(FrameType.Info, { protocol: TAKEOVER_PROTOCOL, version: TAKEOVER_VERSION, pid: process.pid, httpPort: this.host.httpPort, appPort: this.host.appPort }),
      );
      return;
    }
    switch (f.type) {
      case FrameType.Take:
        if (this.taking) return this.refuse('TAKE twice');
        this.take();
        return;
      case FrameType.Imported:
        if (!this.stateSent) return this.refuse('IMPORTED before the state was sent');
        this.commit();
        return;
      case FrameType.Abort: {
        const reason = frameJson(f).reason;
        log(`takeover${this.who()}: the new process gave up: ${typeof reason === 'string' ? reason : 'no reason given'}`);
        this.aborted = true;
        this.socket.end();
        return;
      }
      default:
        this.refuse(`unexpected ${frameName(f.type)}`);
    }
  }

  /** Refuses the peer with a reason (it is logged) and ends the session. */
  private refuse(reason: string): void {
    log(`takeover${this.who()} refused: ${reason}; still serving`);
    this.socket.end(jsonFrame(FrameType.Refuse, { reason }));
    this.endSoon();
  }

  private endSoon(): void {
    const t = setTimeout(() => this.socket.destroy(), 1000);
    t.unref();
  }

  /** TAKE: stop taking sends, snapshot, stream. */
  private take(): void {
    this.taking = true;
    const started = Date.now();
    this.host.stopSends();
    const state = this.host.exportState();
    let messages = 0;
    for (const q of state.queues) messages += q.ids.length;
    log(`takeover by pid ${this.peerPid}: app port closed, no longer taking sends; sending ${state.queues.length} queues (${messages} messages)`);
    void this.stream(state).then(
      (counts) => {
        if (counts === null) return;
        this.stateSent = true;
        log(`takeover by pid ${this.peerPid}: state sent (${counts.clients} queues, ${counts.messages} messages, ${counts.dataBytes} data bytes) in ${Date.now() - started} ms; waiting for it to bind the app port`);
      },
      (err: unknown) => this.cancel(`cannot send the state: ${(err as Error).message}`),
    );
  }

  /** Writes the state frames, waiting for the socket to drain between them; null if the session ended meanwhile. */
  private async stream(state: ManagerState): Promise<{ clients: number; messages: number; dataBytes: number } | null> {
    const frames = stateFrames(state);
    for (;;) {
      if (this.ended) return null;
      const next = frames.next();
      if (next.done === true) return next.value;
      if (!this.socket.write(next.value)) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            this.socket.off('drain', done);
            this.socket.off('close', done);
            resolve();
          };
          this.socket.on('drain', done);
          this.socket.on('close', done);
        });
        this.arm();
      }
    }
  }

  /** IMPORTED: the new process holds the state and the app port. */
  private commit(): void {
    this.committed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    log(`takeover by pid ${this.peerPid}: it has the state and the app port; closing the control socket, answering held polls and exiting`);
    // The socket file must be gone before the new process makes its own (closing removes it).
    void this.closeListener().then(() => {
      this.socket.end(jsonFrame(FrameType.Released, {}));
      this.host.handedOver(this.peerPid!);
    });
  }

  private onClose(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.committed || !this.resumeAfter) return;
    if (!this.taking) {
      if (this.peerPid !== null) log(`takeover by pid ${this.peerPid}: it went away before taking over; nothing changed`);
      return;
    }
    void this.resume();
  }

  /**
   * The session ended after TAKE without IMPORTED. This process serves again
   * if it can bind the app port. If it cannot and the new process is alive,
   * that process bound it, which it does only with the whole state: it
   * serves, and this one hands over. Otherwise someone else holds the port:
   * keep trying (polls are served meanwhile).
   */
  private async resume(): Promise<void> {
    this.resuming = true;
    try {
      await this.resumeSends();
    } finally {
      this.resuming = false;
    }
  }

  private async resumeSends(): Promise<void> {
    let heldByPeer = 0;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.host.resumeSends();
        log(`takeover${this.who()} did not complete: resumed, the app port is open again and this process serves as before`);
        return;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // Asked a few times over half a second: a process that is exiting may not have closed its listener yet.
        if (code === 'EADDRINUSE' && !this.aborted && this.peerPid !== null && isAlive(this.peerPid)) {
          if (++heldByPeer >= PEER_HOLDS_PORT_CHECKS) {
            log(`takeover by pid ${this.peerPid}: the control connection ended without IMPORTED, but the app port is taken and pid ${this.peerPid} lives: it has the whole state and serves; handing over`);
            this.committed = true;
            await this.closeListener();
            this.host.handedOver(this.peerPid);
            return;
          }
          await new Promise((r) => setTimeout(r, PEER_HOLDS_PORT_INTERVAL_MS));
          continue;
        }
        heldByPeer = 0;
        if (attempt % 10 === 0) log(`takeover${this.who()} did not complete, and the app port cannot be bound again (${(err as Error).message}); retrying every ${REBIND_RETRY_MS / 1000} s, polls are still served`);
        await new Promise((r) => setTimeout(r, REBIND_RETRY_MS));
      }
    }
  }
}
