// More worker threads than cores (src/server.ts acceptingWorkers): the port's new connections
// go to as many workers as there are cores, the others get none (so they never wake), and
// every connection is still served.
import t from 'tap';
import { availableParallelism } from 'node:os';
import { AppConnection } from './helpers/app-client.js';
import { RawHttpConnection } from './helpers/http-client.js';
import { startServer } from './helpers/server.js';
import { mapLimit, settle } from './helpers/wait.js';

const CORES = availableParallelism();
const THREADS = CORES + 2;
const CLIENTS = 400;

t.test(`--threads ${THREADS} on ${CORES} cores: connections land on ${CORES} workers, and all are served`, async (t) => {
  const server = await startServer(t, ['--threads', String(THREADS), '--poll-timeout', '60']);
  t.match(server.stderr(), new RegExp(`${THREADS} worker threads on ${CORES} cores: new connections go to ${CORES} of them`), 'the log says so');
  const app = await AppConnection.open(server.appPort, t);
  const conns = await mapLimit(Array.from({ length: CLIENTS }, (_, i) => i), 100, () => RawHttpConnection.open(server.httpPort, t));
  const answers = conns.map((conn, i) => conn.get(`/poll?client=spread-${i}`, {}, { timeoutMs: 30_000 }));
  const stats = await settle(() => app.stats(), (s) => s.held_polls === CLIENTS);
  const busy = stats.threads.filter((row) => row.connections > 0).length;
  t.equal(stats.threads.length, THREADS, 'every worker runs');
  t.ok(busy <= CORES, `${busy} workers hold connections (at most ${CORES})`);
  // 400 connections at random over the cores: all on one of them has odds of 2^-399 with 2 cores.
  t.equal(busy, Math.min(CORES, THREADS), 'each of the accepting workers got some');
  t.equal(stats.threads.reduce((n, row) => n + row.held_polls, 0), CLIENTS, 'every poll is held');
  for (let i = 0; i < CLIENTS; i++) await app.sendTo(`spread-${i}`, i);
  const results = await Promise.all(answers);
  t.equal(results.filter((r, i) => r.status === 200 && JSON.parse(r.text).messages[0] === i).length, CLIENTS, 'every client got its message');
  for (const conn of conns) conn.destroy();
});
