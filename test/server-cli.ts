// The command line (the flag table in README.md, `node dist/main.js --help`,
// and the ready line src/main.ts prints): --help, bad flag values (exit 2 with a
// message naming the flag), the ready line and what it promises, and
// --port-per-thread.
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import t from 'tap';
import { AppConnection } from './helpers/app-client.js';
import { RawHttpConnection, httpGet } from './helpers/http-client.js';
import { READY_LINE, runCli, startServer, type CliRun, type RunningServer } from './helpers/server.js';
import { mapLimit, settle, waitFor } from './helpers/wait.js';

const FLAGS = [
  '--threads', '--host', '--port', '--port-per-thread', '--poll-timeout', '--keepalive-timeout', '--head-timeout',
  '--max-connections', '--cors-origin', '--app-host', '--app-port', '--app-secret', '--secret', '--ttl',
  '--max-queue', '--max-line', '--max-message', '--help',
];

t.test('cli: --help exits 0 and lists every flag', async (t) => {
  const run = await runCli(t, ['--help']);
  t.equal(run.code, 0, 'exit code 0');
  const text = run.stdout + run.stderr;
  for (const flag of FLAGS) t.ok(text.includes(flag), `help mentions ${flag}`);
  t.notOk(run.stdout.includes('megacomet ready:'), 'no server is started');
});

t.test('cli: a bad flag value exits 2 with a message naming the flag', async (t) => {
  const cases: Array<[string[], string]> = [
    [['--threads', '0'], '--threads'],
    [['--threads', 'abc'], '--threads'],
    [['--threads'], '--threads'],
    [['--port', '70000'], '--port'],
    [['--port', '-1'], '--port'],
    [['--app-port', '65536'], '--app-port'],
    [['--poll-timeout', '-1'], '--poll-timeout'],
    [['--head-timeout', 'x'], '--head-timeout'],
    [['--ttl', '-5'], '--ttl'],
    [['--max-connections', 'lots'], '--max-connections'],
    [['--max-line', 'big'], '--max-line'],
    [['--frobnicate'], '--frobnicate'],
  ];
  // Node takes about half a second to start here: run six at a time, check each in its own subtest.
  const runs = mapLimit(cases, 6, ([args]) => runCli(t, [...args, '--port', '0', '--app-port', '0', '--host', '127.0.0.1']));
  for (const [i, [args, flag]] of cases.entries()) {
    await t.test(args.join(' '), async (t) => {
      const run = (await runs)[i] as CliRun;
      t.equal(run.code, 2, `exit code 2 (got ${run.code}, signal ${run.signal}; stderr: ${run.stderr.trim().slice(0, 200)})`);
      t.ok(run.stderr.includes(flag), `stderr names ${flag}: ${JSON.stringify(run.stderr.trim().slice(0, 300))}`);
      t.notOk(run.stdout.includes('megacomet ready:'), 'the server never became ready');
    });
  }
});

t.test('cli: the ready line', async (t) => {
  const server = await startServer(t, ['--threads', '3']);
  t.match(server.readyLine, READY_LINE, `format: ${server.readyLine}`);
  t.match(server.readyLine, /^megacomet ready: http:\/\/127\.0\.0\.1:\d+ app=127\.0\.0\.1:\d+ /, 'shows --host and the default --app-host');
  t.equal(server.threads, 3, 'threads= is --threads');
  t.ok(server.httpPort > 0 && server.appPort > 0, '--port 0 and --app-port 0 show the ports actually bound');
  t.not(server.httpPort, server.appPort);
  t.ok(server.maxConnections > 0 && server.maxConnections <= server.fdLimit, `max-connections (${server.maxConnections}) fits the fd limit (${server.fdLimit})`);

  const health = await httpGet(t, server.httpPort, '/health');
  t.equal(health.status, 200, 'the HTTP port serves');
  const app = await AppConnection.open(server.appPort, t);
  const stats = await app.stats();
  t.equal(stats.threads.length, 3, 'the app port serves, with 3 threads');
  app.destroy();

  const lines = server.stdout().split('\n').filter((l) => l.length > 0);
  t.same(lines, [server.readyLine], 'stdout holds exactly the ready line; other logs go to stderr');
});

t.test('cli: --threads defaults to the CPU count', async (t) => {
  const server = await startServer(t, [], { omitDefaults: ['--threads'] });
  t.equal(server.threads, availableParallelism(), `threads=${server.threads}`);
});

/** Two consecutive free loopback ports P, P+1 (probed; the server may still lose a race, so callers retry). */
async function freePortPair(): Promise<number> {
  for (;;) {
    const probe = createServer();
    const base = await new Promise<number>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(0, '127.0.0.1', () => resolve((probe.address() as { port: number }).port));
    });
    const next = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      next.once('error', () => resolve(false));
      next.listen(base + 1, '127.0.0.1', () => resolve(true));
    });
    await new Promise((r) => probe.close(r));
    if (ok) await new Promise((r) => next.close(r));
    if (ok && base + 1 < 65536) return base;
  }
}

t.test('cli: --port-per-thread makes worker i listen on port+i', async (t) => {
  let server: RunningServer | undefined;
  let base = 0;
  for (let attempt = 0; attempt < 5 && server === undefined; attempt++) {
    base = await freePortPair();
    try {
      server = await startServer(t, ['--threads', '2', '--port', String(base), '--port-per-thread']);
    } catch (err) {
      t.comment(`attempt ${attempt + 1} on ports ${base}-${base + 1}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  if (server === undefined) {
    t.fail('could not start the server with --port-per-thread on two free ports');
    return;
  }
  t.equal(server.httpPort, base, 'the ready line shows the base port');
  const app = await AppConnection.open(server.appPort, t);
  for (const i of [0, 1]) {
    const conn = await RawHttpConnection.open(base + i, t);
    t.equal((await conn.get('/health')).status, 200, `port ${base}+${i} serves`);
    // Per-thread stats may lag a little behind the sockets.
    const { threads } = await settle(() => app.stats(), (st) => st.threads[i]?.connections === 1);
    t.equal(threads[i]?.connections, 1, `the connection to port+${i} is held by thread ${i}: ${JSON.stringify(threads)}`);
    t.equal(threads[1 - i]?.connections, 0, `and not by thread ${1 - i}`);
    conn.destroy();
    await waitFor('the closed connection to leave the stats', async () => (await app.stats()).connections === 0);
  }
});

t.test('cli: durations take decimals (--poll-timeout 0.5)', async (t) => {
  const server = await startServer(t, ['--poll-timeout', '0.5']);
  const conn = await RawHttpConnection.open(server.httpPort, t);
  const start = Date.now();
  const res = await conn.get('/poll?client=half-second&since=4');
  const elapsed = res.receivedAt - start;
  t.equal(res.status, 200);
  t.same(JSON.parse(res.text), { cursor: 4, messages: [] });
  // The exact value parsed is test/config.ts's business; here: honoured, not
  // rounded down to nothing, and not the 25 s default.
  t.ok(elapsed >= 490, `held at least half a second (${elapsed} ms after the request)`);
  t.ok(elapsed < 10_000, `and answered within seconds (${elapsed} ms)`);
});
