// Clean shutdown (README.md, Flags): on SIGTERM or SIGINT the server stops
// accepting, answers every held poll with its empty response and exits 0
// within a few seconds (the bounds below allow a loaded machine several).
import t from 'tap';
import { AppConnection } from './helpers/app-client.js';
import { expectEmptyPoll } from './helpers/expect.js';
import { RawHttpConnection, requestBytes } from './helpers/http-client.js';
import { startServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';

const HELD = 20;

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`shutdown: ${signal} answers held polls and exits 0`, async (t) => {
    const server = await startServer(t, ['--threads', '2', '--poll-timeout', '30']);
    const app = await AppConnection.open(server.appPort, t);
    const polls: RawHttpConnection[] = [];
    for (let i = 0; i < HELD; i++) {
      const conn = await RawHttpConnection.open(server.httpPort, t);
      conn.write(requestBytes('GET', `/poll?client=shutdown-${i}&since=${i * 10}`));
      polls.push(conn);
    }
    const idle = await RawHttpConnection.open(server.httpPort, t);
    t.equal((await idle.get('/health')).status, 200);
    await waitFor(`${HELD} held polls`, async () => (await app.stats()).held_polls === HELD);

    const signalledAt = Date.now();
    const exit = server.stop(signal, 10_000);
    const answers = await Promise.all(polls.map((conn) => conn.readResponse({ timeoutMs: 10_000 })));
    answers.forEach((res, i) => expectEmptyPoll(t, res, i * 10));
    const latest = Math.max(...answers.map((r) => r.receivedAt)) - signalledAt;
    // The 30 s poll timeout is far off: these answers are the shutdown's.
    t.ok(latest < 10_000, `every held poll was answered ${latest} ms after ${signal}`);
    t.same(await exit, { code: 0, signal: null }, 'exit code 0');
    t.ok(Date.now() - signalledAt < 10_000, `exited ${Date.now() - signalledAt} ms after ${signal}`);
    t.ok(await idle.waitClosed(), 'the idle keep-alive connection was closed');
    const stderr = server.stderr();
    t.notMatch(stderr, /Error|uncaught|unhandled/i, `no error on stderr: ${stderr.slice(0, 300)}`);
  });
}
