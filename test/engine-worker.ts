// The addon in worker threads: it loads and serves inside a Worker, two engines
// in two workers share one port, and a worker that dies (terminate, exit, or an
// exception thrown by the events callback) takes its sockets with it cleanly.
import t, { type Test } from 'tap';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { EngineWorkerData, EngineWorkerMessage } from './fixtures/engine-worker.js';
import { transpileForWorker } from './fixtures/ring-worker-build.js';
import { RawHttpConnection, requestBytes } from './helpers/http-client.js';

// Each worker would otherwise start ts-node again: seconds per worker on a
// loaded 2-core machine (the file took a minute of its two under load).
const fixture = transpileForWorker('test/fixtures/engine-worker.ts', [
  'test/fixtures/engine-harness.ts',
  'test/helpers/http-client.ts',
  'test/helpers/wait.ts',
  'src/engine/binding.ts',
  'src/engine/events.ts',
]);
t.teardown(fixture.cleanup);
// The transpiled binding sits in a temporary directory: name the addon by its absolute path.
const addon = process.env.MEGACOMET_ADDON ?? fileURLToPath(new URL('../build/Release/megacomet.node', import.meta.url));

async function startWorker(t: Test, name: string, port = 0): Promise<{ worker: Worker; port: number }> {
  const worker = new Worker(fixture.url, {
    workerData: { name, port } satisfies EngineWorkerData,
    execArgv: [],
    env: { ...process.env, MEGACOMET_ADDON: addon },
  });
  t.teardown(() => worker.terminate());
  const [msg] = (await once(worker, 'message')) as [EngineWorkerMessage];
  if (msg.kind !== 'ready') throw new Error(`unexpected first message ${JSON.stringify(msg)}`);
  return { worker, port: msg.port };
}

t.test('an engine inside a worker thread serves requests and closes cleanly', async (t) => {
  const { worker, port } = await startWorker(t, 'w1');
  const conn = await RawHttpConnection.open(port, t);
  t.equal((await conn.get('/hello')).text, 'w1 /hello');
  worker.postMessage('close');
  const [code] = (await once(worker, 'exit')) as [number];
  t.equal(code, 0, 'the worker ends by itself once its engine is closed');
  t.ok(await conn.waitClosed(), 'and its connection is closed');
});

t.test('two engines in two workers share one port', async (t) => {
  const a = await startWorker(t, 'A');
  const b = await startWorker(t, 'B', a.port);
  t.equal(b.port, a.port, 'the second worker listens on the same port');
  const seen = new Set<string>();
  for (let i = 0; i < 60 && seen.size < 2; i++) {
    const conn = await RawHttpConnection.open(a.port, t);
    const res = await conn.get(`/n${i}`);
    t.match(res.text, new RegExp(`^[AB] /n${i}$`));
    seen.add(res.text.slice(0, 1));
    conn.destroy();
  }
  t.same([...seen].sort(), ['A', 'B'], 'the kernel spreads connections over both');

  t.test('and one keeps serving when the other closes', async (t) => {
    a.worker.postMessage('close');
    await once(a.worker, 'exit');
    for (let i = 0; i < 5; i++) {
      const conn = await RawHttpConnection.open(a.port, t);
      t.equal((await conn.get(`/after${i}`)).text, `B /after${i}`);
      conn.destroy();
    }
  });
});

t.test('a terminated worker closes its engine: sockets closed, no crash', async (t) => {
  const { worker, port } = await startWorker(t, 'T');
  const conns = await Promise.all([1, 2, 3].map(() => RawHttpConnection.open(port, t)));
  t.equal((await conns[0]!.get('/x')).text, 'T /x');
  await worker.terminate();
  for (const c of conns) t.ok(await c.waitClosed(), 'connection closed by the teardown');
  const refused = await RawHttpConnection.open(port).then(
    (c) => {
      c.destroy();
      return 'connected';
    },
    (e: NodeJS.ErrnoException) => e.code,
  );
  t.equal(refused, 'ECONNREFUSED', 'the listening socket is gone too');
});

t.test('process.exit() inside a worker with an open engine is clean', async (t) => {
  const { worker, port } = await startWorker(t, 'E');
  const conn = await RawHttpConnection.open(port, t);
  t.equal((await conn.get('/y')).text, 'E /y');
  worker.postMessage('exit');
  const [code] = (await once(worker, 'exit')) as [number];
  t.equal(code, 0);
  t.ok(await conn.waitClosed(), 'connection closed');
});

t.test('an exception thrown by the events callback surfaces as the worker error', async (t) => {
  const { worker, port } = await startWorker(t, 'X');
  worker.postMessage('throw');
  // The worker handles messages in order: its answer to 'stats' means 'throw' has landed.
  worker.postMessage('stats');
  const [reply] = (await once(worker, 'message')) as [EngineWorkerMessage];
  t.equal(reply.kind, 'stats', 'the worker has taken the message');
  const errored = once(worker, 'error');
  const conn = await RawHttpConnection.open(port, t);
  conn.write(requestBytes('GET', '/boom'));
  const [err] = (await errored) as [Error];
  t.match(err.message, /thrown by the events callback of X/);
  const [code] = (await once(worker, 'exit')) as [number];
  t.equal(code, 1, 'the worker ends with an uncaught exception');
  t.ok(await conn.waitClosed(), 'and its sockets are closed');
});
