// Many raw client sockets at once, for the fault probes (slowloris, floods,
// thousands of held polls). Each socket records when the test started to
// connect it (the lower bound for any server timeout), what it received and
// how it ended, so a probe can assert per socket and report the outliers.
// Sockets bind to 127.0.0.<base> .. <base + count - 1> in turn, so that one
// probe's thousands of connections do not exhaust one address's ephemeral
// ports, and every socket is destroyed in the test's teardown.
import { connect, type Socket } from 'node:net';
import type { Test } from 'tap';
import { mapLimit } from './wait.js';

export interface FleetSocket {
  readonly index: number;
  readonly socket: Socket;
  /** Date.now() just before connect() was called. */
  readonly connectStart: number;
  /** Date.now() at 'connect', if it came. */
  connectedAt?: number;
  /** The connect failed with this code (the socket is then closed). */
  connectError?: string;
  /** Bytes received, up to `keepBytes`. */
  received: Buffer;
  /** Total bytes received. */
  receivedBytes: number;
  /** Date.now() at the first byte received. */
  firstByteAt?: number;
  /** Date.now() at 'close'. */
  closedAt?: number;
  /** The error that ended the socket (ECONNRESET, EPIPE ...), if any. */
  closeError?: string;
  /** The peer's FIN arrived ('end'). */
  gotEnd: boolean;
  /** The test destroyed the socket itself (so a close is not the server's doing). */
  destroyedByUs: boolean;
  /** Settles at 'close'. */
  readonly closed: Promise<void>;
  /** destroy(), marking it as the test's doing. */
  destroy(): void;
}

export interface FleetOptions {
  port: number;
  count: number;
  /** First source address octet (127.0.0.<sourceBase>) and how many addresses to cycle through. */
  sourceBase: number;
  sourceCount?: number;
  /** Connects in flight at most (default 200). */
  concurrency?: number;
  /** Bytes of each socket's input to keep (default 4096; the count is kept whatever). */
  keepBytes?: number;
  /** Called on 'connect' (write the request here). */
  onConnect?: (s: FleetSocket) => void;
  /** Called on every chunk received, after it was recorded. */
  onData?: (s: FleetSocket, chunk: Buffer) => void;
  /** Index of the first socket (for ids), default 0. */
  firstIndex?: number;
}

/** Opens `count` sockets with at most `concurrency` connects in flight; resolves once every connect has succeeded or failed. */
export async function openFleet(t: Test, options: FleetOptions): Promise<FleetSocket[]> {
  const sourceCount = options.sourceCount ?? 4;
  const keepBytes = options.keepBytes ?? 4096;
  const fleet: FleetSocket[] = [];
  t.teardown(() => {
    for (const s of fleet) if (s.closedAt === undefined) s.destroy();
  });
  const indexes = Array.from({ length: options.count }, (_, i) => i + (options.firstIndex ?? 0));
  await mapLimit(indexes, options.concurrency ?? 200, (index) => {
    const connectStart = Date.now();
    const socket = connect({
      port: options.port,
      host: '127.0.0.1',
      localAddress: `127.0.0.${options.sourceBase + (index % sourceCount)}`,
    });
    socket.setNoDelay(true);
    let resolveClosed: () => void = () => undefined;
    const closed = new Promise<void>((resolve) => {
      resolveClosed = resolve;
    });
    const s: FleetSocket = {
      index,
      socket,
      connectStart,
      received: Buffer.alloc(0),
      receivedBytes: 0,
      gotEnd: false,
      destroyedByUs: false,
      closed,
      destroy() {
        if (s.closedAt === undefined) s.destroyedByUs = true;
        socket.destroy();
      },
    };
    fleet.push(s);
    let lastError: string | undefined;
    socket.on('error', (err: NodeJS.ErrnoException) => {
      lastError = err.code ?? err.message;
    });
    socket.on('data', (chunk: Buffer) => {
      if (s.firstByteAt === undefined) s.firstByteAt = Date.now();
      s.receivedBytes += chunk.length;
      if (s.received.length < keepBytes) s.received = Buffer.concat([s.received, chunk.subarray(0, keepBytes - s.received.length)]);
      options.onData?.(s, chunk);
    });
    socket.on('end', () => {
      s.gotEnd = true;
    });
    return new Promise<void>((resolve) => {
      socket.once('connect', () => {
        s.connectedAt = Date.now();
        options.onConnect?.(s);
        resolve();
      });
      socket.once('close', () => {
        s.closedAt = Date.now();
        if (lastError !== undefined) s.closeError = lastError;
        if (s.connectedAt === undefined) s.connectError = lastError ?? 'closed before connect';
        resolveClosed();
        resolve();
      });
    });
  });
  fleet.sort((a, b) => a.index - b.index);
  return fleet;
}

/** Resolves once every socket of `fleet` has closed, or after `timeoutMs`; returns the ones still open. */
export async function waitAllClosed(fleet: readonly FleetSocket[], timeoutMs: number): Promise<FleetSocket[]> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  await Promise.race([Promise.all(fleet.map((s) => s.closed)), deadline]);
  clearTimeout(timer);
  return fleet.filter((s) => s.closedAt === undefined);
}

/** The first few items of `items` described by `describe`, for an assertion message. */
export function sample<T>(items: readonly T[], describe: (item: T) => string, max = 5): string {
  const shown = items.slice(0, max).map(describe).join('; ');
  return items.length > max ? `${shown}; ... (${items.length} in all)` : shown;
}

export interface FleetResponse {
  status: number;
  /** The head, without the blank line. */
  head: string;
  body: string;
}

/**
 * The first response in what `s` received, once its head and Content-Length
 * body are complete (undefined before); status -1 if the head is not a
 * response head with a Content-Length.
 */
export function firstResponse(s: FleetSocket): FleetResponse | undefined {
  const text = s.received.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = text.slice(0, end);
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(head);
  const length = /\r\ncontent-length: *(\d+)/i.exec(head);
  if (m === null || length === null) return { status: -1, head, body: '' };
  const body = text.slice(end + 4, end + 4 + Number(length[1]));
  if (body.length < Number(length[1])) return undefined;
  return { status: Number(m[1]), head, body };
}
