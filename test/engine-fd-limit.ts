// Out of file descriptors: the engine refuses new connections with 503 through
// its reserve fd instead of spinning on EMFILE, and keeps serving the rest.
// The engine runs in a child process started under `ulimit -n 64`.
import t from 'tap';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { RawHttpConnection, requestBytes } from './helpers/http-client.js';
import { sleep, waitFor } from './helpers/wait.js';

const FD_LIMIT = 64;
const CLIENTS = 100;

t.test('past the fd limit new connections get 503, the loop does not spin, and everyone else is served', async (t) => {
  const script = fileURLToPath(new URL('./fixtures/engine-fd-limit.mjs', import.meta.url));
  const child = spawn('bash', ['-c', `ulimit -n ${FD_LIMIT} && exec "${process.execPath}" "${script}"`], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  t.teardown(() => child.kill());
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const nextLine = async (): Promise<Record<string, unknown>> => JSON.parse(String((await lines.next()).value)) as Record<string, unknown>;
  const ask = async (): Promise<{ stats: Record<string, number>; cpuMs: number }> => {
    child.stdin!.write('stats\n');
    return (await nextLine()) as { stats: Record<string, number>; cpuMs: number };
  };
  const { port } = (await nextLine()) as { port: number };

  const conns: RawHttpConnection[] = [];
  for (let i = 0; i < CLIENTS; i++) conns.push(await RawHttpConnection.open(port, t));
  for (const c of conns) c.write(requestBytes('GET', '/x'));
  const statuses = await Promise.all(conns.map(async (c) => (await c.readResponse()).status));
  const served = statuses.filter((s) => s === 200).length;
  const refused = statuses.filter((s) => s === 503).length;
  t.equal(served + refused, CLIENTS, 'every connection got an answer: 200 or 503');
  t.ok(served > 20, `many were served (${served})`);
  t.ok(refused > 0, `the ones past the limit were refused (${refused})`);
  const { stats } = await ask();
  t.equal(stats.refused, refused, 'refusals counted');

  t.test('an idle engine at the fd limit uses no CPU', async (t) => {
    const before = await ask();
    // CPU time over a second of idleness is the measurement itself.
    await sleep(1000);
    const after = await ask();
    t.ok(after.cpuMs - before.cpuMs < 200, `${(after.cpuMs - before.cpuMs).toFixed(1)} ms of CPU in 1 s`);
  });

  t.test('the served connections keep working, and closing them makes room again', async (t) => {
    const kept = conns.filter((_, i) => statuses[i] === 200);
    t.equal((await kept[0]!.get('/again')).status, 200);
    for (const c of conns) c.destroy();
    await waitFor('the engine to close every connection', async () => (await ask()).stats.connections === 0);
    const fresh = await RawHttpConnection.open(port, t);
    t.equal((await fresh.get('/fresh')).status, 200, 'a new connection is served');
  });

  t.test('the process ends once its engine is closed', async (t) => {
    child.stdin!.write('close\n');
    const [code] = await new Promise<[number | null]>((resolve) => child.once('exit', (c) => resolve([c])));
    t.equal(code, 0);
  });
});

t.test('raiseFileLimit() lifts the soft limit to the hard one and returns it', async (t) => {
  const addon = process.env.MEGACOMET_ADDON ?? fileURLToPath(new URL('../build/Release/megacomet.node', import.meta.url));
  const code = `process.stdout.write(String(require(${JSON.stringify(addon)}).raiseFileLimit()))`;
  const child = spawn('bash', ['-c', `ulimit -S -n 100 && echo "$(ulimit -H -n)" && exec "${process.execPath}" -e '${code}'`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((resolve) => child.once('exit', resolve));
  const [hard, raised] = out.trim().split('\n');
  t.ok(Number(raised) > 100, `raised above the soft limit of 100 (to ${raised})`);
  if (hard !== 'unlimited') t.equal(raised, hard, 'to the hard limit');
});
