// Shared by the app-* tests: an app server on a free loopback port with a real
// Manager (fake clock, fake worker links), and a raw line socket that writes
// exactly what a test gives it and reads reply lines strictly in order.
import type { ThreadCounters } from '../../src/protocol/stats.js';
import { connect, type Socket } from 'node:net';
import { startAppServer, type AppServer } from '../../src/manager/app-server.js';
import { Manager } from '../../src/manager/manager.js';
import { LocalBackend } from '../../src/manager/local-backend.js';
import { FakeClock, FakeLinks } from './manager-fakes.js';

export interface AppHarnessOptions {
  secret?: string;
  maxLine?: number;
  maxMessage?: number;
  maxQueue?: number;
  ttlMs?: number;
  authTimeoutMs?: number;
}

export interface AppHarness {
  clock: FakeClock;
  links: FakeLinks;
  manager: Manager;
  server: AppServer;
  threads: ThreadCounters[];
  connect(): Promise<LineSocket>;
  close(): Promise<void>;
}

export async function startHarness(options: AppHarnessOptions = {}): Promise<AppHarness> {
  const clock = new FakeClock();
  const links = new FakeLinks(2);
  const manager = new Manager({ ttlMs: options.ttlMs ?? 60_000, maxQueue: options.maxQueue ?? 1000, now: clock.now, sleep: clock.sleep }, links.links);
  const threads = [
    { connections: 3, held_polls: 1, connections_accepted: 10, connections_refused: 0 },
    { connections: 4, held_polls: 2, connections_accepted: 12, connections_refused: 1 },
  ];
  const server = await startAppServer(
    {
      host: '127.0.0.1',
      port: 0,
      secret: options.secret,
      maxLine: options.maxLine ?? 1024 * 1024,
      maxMessage: options.maxMessage ?? 64 * 1024,
      authTimeoutMs: options.authTimeoutMs,
    },
    new LocalBackend(manager),
    () => threads,
  );
  const sockets: LineSocket[] = [];
  return {
    clock,
    links,
    manager,
    server,
    threads,
    async connect() {
      const socket = await LineSocket.connect(server.port);
      sockets.push(socket);
      return socket;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await server.close();
    },
  };
}

/** A generous deadline for a reply that should come at once. */
const LINE_TIMEOUT_MS = 10_000;

export class LineSocket {
  readonly socket: Socket;
  readonly closed: Promise<void>;
  private text = '';
  private readonly lines: string[] = [];
  private readonly readers: Array<{ resolve(line: string): void; reject(err: Error): void }> = [];
  private isClosed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.text += chunk;
      let lf: number;
      while ((lf = this.text.indexOf('\n')) >= 0) {
        const line = this.text.slice(0, lf);
        this.text = this.text.slice(lf + 1);
        const reader = this.readers.shift();
        if (reader) reader.resolve(line);
        else this.lines.push(line);
      }
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        for (const reader of this.readers.splice(0)) reader.reject(new Error('the server closed the connection'));
        resolve();
      }),
    );
  }

  static connect(port: number): Promise<LineSocket> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new LineSocket(socket));
      });
    });
  }

  write(bytes: string | Buffer): void {
    this.socket.write(bytes);
  }

  /** The next reply line (without \n), raw. */
  line(): Promise<string> {
    const ready = this.lines.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.isClosed) return Promise.reject(new Error('the server closed the connection'));
    return new Promise((resolve, reject) => {
      const reader = {
        resolve: (line: string) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (err: Error) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        // Leave the queue, or a late line would go to this reader instead of the next.
        this.readers.splice(this.readers.indexOf(reader), 1);
        reject(new Error(`no reply line within ${LINE_TIMEOUT_MS} ms`));
      }, LINE_TIMEOUT_MS);
      this.readers.push(reader);
    });
  }

  /** Writes one request line and resolves to its reply, parsed. */
  async request(line: string): Promise<Record<string, unknown>> {
    this.write(line + '\n');
    return JSON.parse(await this.line()) as Record<string, unknown>;
  }

  /** Reply lines already received and not yet read. */
  get unread(): number {
    return this.lines.length;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
