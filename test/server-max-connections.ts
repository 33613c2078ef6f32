// Refusal past --max-connections (issue 2): the connection over the limit
// gets a 503 or is closed, the ones already open keep working, and a slot
// freed by a close is usable again.
import t, { type Test } from 'tap';
import { expectCors } from './helpers/expect.js';
import { RawHttpConnection, type HttpResponse } from './helpers/http-client.js';
import { AppConnection } from './helpers/app-client.js';
import { startServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';

const MAX = 50;

/** Opens a connection and asks for /health: 200 when served; the status, or 'closed', when refused. */
async function tryHealth(t: Test, port: number): Promise<{ outcome: number | 'closed'; conn: RawHttpConnection | undefined; res?: HttpResponse }> {
  let conn: RawHttpConnection;
  try {
    conn = await RawHttpConnection.open(port, t);
  } catch {
    return { outcome: 'closed', conn: undefined };
  }
  try {
    const res = await conn.get('/health', {}, { timeoutMs: 5000 });
    return { outcome: res.status, conn, res };
  } catch (err) {
    if (conn.isClosed) return { outcome: 'closed', conn };
    throw err;
  }
}

t.test('max connections: past --max-connections new sockets are refused and the others keep working', async (t) => {
  const server = await startServer(t, ['--threads', '1', '--max-connections', String(MAX)]);
  t.equal(server.maxConnections, MAX, 'the ready line shows --max-connections');

  const held: RawHttpConnection[] = [];
  for (let i = 0; i < MAX; i++) {
    const conn = await RawHttpConnection.open(server.httpPort, t);
    const res = await conn.get('/health');
    t.equal(res.status, 200, `connection ${i + 1} of ${MAX} is served`);
    held.push(conn);
  }

  const over = await tryHealth(t, server.httpPort);
  t.ok(over.outcome === 503 || over.outcome === 'closed', `connection ${MAX + 1} gets 503 or is closed (got ${over.outcome})`);
  if (over.res !== undefined) {
    expectCors(t, over.res);
    t.ok(await over.conn?.waitClosed(3000), 'and is closed after the 503');
  }

  for (const [i, conn] of held.entries()) {
    const res = await conn.get('/health');
    if (res.status !== 200) t.fail(`connection ${i + 1} no longer works after the refusal: ${res.status}`);
  }
  t.pass(`all ${MAX} earlier connections still work`);

  const app = await AppConnection.open(server.appPort, t);
  const stats = await waitFor('stats to count the refusal', async () => {
    const s = await app.stats();
    return typeof s.connections_refused === 'number' && s.connections_refused >= 1 ? s : undefined;
  });
  t.ok((stats.connections_refused as number) >= 1, 'stats counts connections refused past the limit (an extension key)');
  t.ok(typeof stats.connections_accepted === 'number' && stats.connections_accepted >= MAX, 'and connections accepted');

  held.shift()?.destroy();
  const again = await waitFor('a freed slot to accept a new connection', async () => {
    const attempt = await tryHealth(t, server.httpPort);
    attempt.conn?.destroy();
    return attempt.outcome === 200 ? attempt : undefined;
  });
  t.equal(again.outcome, 200, 'a new connection is served once one closed');
});

t.test('max connections: with several threads, connections up to --max-connections are all served', async (t) => {
  // The limit is the server's, not a thread's: the kernel spreads accepts unevenly over SO_REUSEPORT
  // listeners, so a per-thread share of the limit would refuse sockets before the server holds N.
  const limit = 40;
  const server = await startServer(t, ['--threads', '4', '--max-connections', String(limit)]);
  const outcomes: Array<number | 'closed'> = [];
  for (let i = 0; i < limit; i++) {
    const attempt = await tryHealth(t, server.httpPort);
    outcomes.push(attempt.outcome);
  }
  const refused = outcomes.filter((o) => o !== 200).length;
  t.equal(refused, 0, `all ${limit} connections served (refused ${refused}: ${JSON.stringify(outcomes)})`);
});
