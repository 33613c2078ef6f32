// AppClient across a lost connection: it reconnects by itself with backoff,
// authenticates again, writes the requests made meanwhile, and never re-sends
// a request whose outcome is unknown (written, connection lost before the reply).
import t, { type Test } from 'tap';
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { AppClient, SendOutcomeUnknownError, type AppClientState } from '../src/client/index.js';

interface Scripted {
  port: number;
  lines: string[];
  /** Closes the listener and drops every connection (a server going away). */
  stop(): Promise<void>;
}

/** A scripted app port: `onLine(line, connection index, socket)` decides what each line gets. */
async function scriptedServer(t: Test, onLine: (line: string, connection: number, socket: Socket) => void, port = 0): Promise<Scripted> {
  const lines: string[] = [];
  let connections = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    const index = connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('error', () => undefined);
    socket.on('data', (chunk: string) => {
      text += chunk;
      let lf: number;
      while ((lf = text.indexOf('\n')) >= 0) {
        const line = text.slice(0, lf);
        text = text.slice(lf + 1);
        lines.push(line);
        onLine(line, index, socket);
      }
    });
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const stop = async (): Promise<void> => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  t.teardown(stop);
  const address = server.address();
  return { port: typeof address === 'object' && address !== null ? address.port : 0, lines, stop };
}

t.test('a send in flight when the connection drops is reported, not re-sent; later sends go out after reconnecting', async (t) => {
  let id = 100;
  const { port, lines } = await scriptedServer(t, (line, connection, socket) => {
    const request = JSON.parse(line) as { op: string };
    if (connection === 0 && request.op === 'send') {
      socket.destroy(); // took the line, never answered
      return;
    }
    socket.write(request.op === 'auth' ? '{"ok":true}\n' : `{"ok":true,"id":${++id}}\n`);
  });
  const states: AppClientState[] = [];
  const client = await AppClient.connect({ port, secret: 'pw', reconnect: { initialDelayMs: 10, maxDelayMs: 50 }, onState: (s) => states.push(s) });
  t.teardown(() => client.close());
  const lost = await client.send('a', 1).catch((err: unknown) => err);
  t.ok(lost instanceof SendOutcomeUnknownError, 'the send whose reply never came is rejected as outcome unknown');
  t.match((lost as SendOutcomeUnknownError).line, /"client":"a"/);
  const later = await client.send('b', 2);
  t.equal(later, 101, 'a send made after the loss is carried out on the new connection');
  t.same(states, ['reconnecting', 'connected']);
  const sends = lines.filter((l) => l.includes('"op":"send"'));
  t.same(sends.map((l) => (JSON.parse(l) as { client: string }).client), ['a', 'b'], 'the lost send was written once, never again');
  t.same(lines.filter((l) => l.includes('"op":"auth"')).length, 2, 'it authenticated on each connection');
});

t.test('requests made while the server is away wait for it and go out in order once it is back', async (t) => {
  let id = 0;
  const answer = (_line: string, _connection: number, socket: Socket): void => void socket.write(`{"ok":true,"id":${++id}}\n`);
  const first = await scriptedServer(t, answer);
  let lostConnection!: () => void;
  const reconnecting = new Promise<void>((resolve) => (lostConnection = resolve));
  const client = await AppClient.connect({
    port: first.port,
    reconnect: { initialDelayMs: 10, maxDelayMs: 40 },
    onState: (state) => state === 'reconnecting' && lostConnection(),
  });
  t.teardown(() => client.close());
  t.equal(await client.send('x', 1), 1);
  await first.stop();
  await reconnecting;
  const queued = [client.send('y', 2), client.send('z', 3)];
  const second = await scriptedServer(t, answer, first.port);
  t.same(await Promise.all(queued), [2, 3], 'both are carried out, in the order they were made');
  t.same(second.lines.map((l) => (JSON.parse(l) as { client: string }).client), ['y', 'z']);
});

t.test('close() while reconnecting rejects what waits and stops trying', async (t) => {
  const first = await scriptedServer(t, (_l, _c, socket) => void socket.write('{"ok":true,"id":1}\n'));
  let lostConnection!: () => void;
  const reconnecting = new Promise<void>((resolve) => (lostConnection = resolve));
  const client = await AppClient.connect({ port: first.port, reconnect: { initialDelayMs: 10, maxDelayMs: 20 }, onState: (s) => s === 'reconnecting' && lostConnection() });
  await first.stop();
  await reconnecting;
  const waiting = client.stats();
  await client.close();
  await t.rejects(waiting, /closed/);
  t.equal(client.connectionState, 'closed');
});
