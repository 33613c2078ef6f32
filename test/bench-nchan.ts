// Nchan as a bench target, for real: the bench starts nginx with its Nchan module from
// bench/nchan/nginx.conf.template (loopback, one worker, its own temp dir) and stops it by PID;
// the load generator speaks Nchan's wire (long-poll cursor from Last-Modified/Etag, 408 as an
// empty poll, pipelined publishes), delivering every message once and in order.
// Needs `apt-get install -y nginx-light libnginx-mod-nchan` (.ci/run installs it).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { findNchan, nchanMissingMessage, startNchan } from '../bench/lib/nchan-server.js';
import { ProcessRegistry } from '../bench/lib/process-registry.js';
import { epollThreads, identifyRoles, phaseUsage, readThreads } from '../bench/lib/thread-usage.js';
import { num, sourceFlags, startLoadgen } from './helpers/loadgen.js';
import { waitFor } from './helpers/wait.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

t.before(() => {
  if (findNchan() === null) throw new Error(nchanMissingMessage());
  // The generator binary: `npm test` builds only its unit tests.
  execFileSync('make', ['-s', '-C', 'bench/loadgen'], { cwd: repoRoot, stdio: 'inherit' });
});

function alive(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

t.test('every message once and in order through Nchan; timeouts are empty polls; nginx stopped by PID', async (t) => {
  const registry = new ProcessRegistry();
  t.teardown(() => registry.killAll());
  // A 2 s poll timeout: the clients see Nchan's 408 while they wait.
  const server = await startNchan(repoRoot, { pollTimeout: 2, ttl: 60, maxQueue: 100, threads: 1 }, registry, 20_000);
  const [master, worker] = server.processIds();
  t.ok(master !== undefined && worker !== undefined && master !== worker, `master ${master}, worker ${worker}`);
  t.match(server.readyLine, /^nchan ready: http:\/\/127\.0\.0\.1:\d+ /);
  const roles = await identifyRoles('nchan', server.processIds(), null);
  t.same([...roles.values()], ['nginx master', 'nginx worker']);
  // Right after the ready line the worker may still be setting up: wait until it sleeps in epoll.
  await waitFor('the nginx worker waiting in epoll', () => epollThreads(server.pid).length === 1 || undefined);
  t.same(epollThreads(server.pid).length, 1, 'the worker waits in epoll');

  const clients = 300;
  const messages = 3000;
  const args = ['--protocol', 'nchan', '--host', server.host, '--port', String(server.port), '--clients', String(clients), '--max-seconds', '60'];
  const pollers = startLoadgen(t, 'poll', [...args, ...sourceFlags(40)], 'nchan poll');
  await pollers.waitProgress(`${clients} polls held`, (p) => (p['held'] ?? 0) >= clients);
  // Nchan's own count of waiting subscribers (nchan_stub_status).
  for (let i = 0; i < 100 && (await server.stats()).held_polls < clients; i++) await new Promise((r) => setTimeout(r, 50));
  t.equal((await server.stats()).held_polls, clients, 'nchan_stub_status counts every held poll');

  const before = readThreads(server.processIds());
  const sender = startLoadgen(t, 'send', ['--protocol', 'nchan', '--app-host', server.host, '--app-port', String(server.appPort), '--clients', String(clients),
    '--messages', String(messages), '--window', '200', '--publishers', '3', '--max-seconds', '60'], 'nchan send');
  const sent = await sender.result;
  t.equal(num(sent, 'deliveries_ok'), messages, 'every publish answered 201 or 202');
  t.equal(num(sent, 'deliveries_refused'), 0);
  t.equal(num(sent, 'connections'), 3);
  await pollers.waitProgress(`${messages} messages received`, (p) => (p['received'] ?? 0) >= messages);
  const usage = phaseUsage(before, readThreads(server.processIds()), roles);
  t.ok((usage.byRole.find((r) => r.role === 'nginx worker')?.cpuSeconds ?? 0) > 0, 'the worker did the work');
  // More than the poll timeout passes with nothing sent: each client's poll ends in a 408.
  await pollers.waitProgress('an empty poll (408)', (p) => (p['responses'] ?? 0) > messages, 30_000);
  const polled = await pollers.finish();
  t.equal(num(polled, 'received'), messages);
  t.equal(num(polled, 'duplicated'), 0, 'none twice or out of order');
  t.equal(num(polled, 'gaps'), 0, 'none skipped');
  t.equal(num(polled, 'foreign'), 0);
  t.ok(num(polled, 'empty_responses') >= 1, 'a 408 is an empty poll');
  for (const e of ['connect', 'server_closed', 'http_status', 'bad_response', 'bad_cursor']) t.equal(num(polled, `errors.${e}`), 0, `no ${e} errors`);

  await server.stop();
  t.notOk(alive(master ?? 0), 'master gone');
  t.notOk(alive(worker ?? 0) && readComm(worker ?? 0) === 'nginx', 'worker gone');
});

function readComm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}
