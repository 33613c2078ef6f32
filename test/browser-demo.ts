// The demo (examples/demo, `npm run demo`) in a real Chromium: the page
// subscribes, the app's ticks arrive, and what one window says arrives in
// another. Started and stopped by PID like every real component.
import { spawn } from 'node:child_process';
import t from 'tap';
import { browserMissing, startBrowser } from './helpers/browser.js';
import { ROOT } from './helpers/server.js';

const missing = browserMissing();
if (missing !== undefined) {
  t.skip(`demo in a browser: ${missing}`);
} else {
  // A free port for the page: the demo takes DEMO_PORT; 0 would hide it, so ask the kernel first.
  const { createServer } = await import('node:net');
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const demo = spawn(process.execPath, ['examples/demo/demo.mjs'], { cwd: ROOT, env: { ...process.env, DEMO_PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => demo.once('exit', resolve));
  t.teardown(async () => {
    if (demo.exitCode === null) process.kill(demo.pid!, 'SIGTERM');
    await exited;
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    demo.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /open (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    demo.once('exit', (code) => reject(new Error(`the demo exited (${code}) before it was ready: ${out}`)));
  });
  const browser = await startBrowser(t);
  const context = await browser.newContext();
  t.teardown(() => context.close());

  t.test('ticks arrive, and what one window says arrives in the other', async (t) => {
    const a = await context.newPage();
    const b = await context.newPage();
    await a.goto(url);
    await b.goto(url);
    await a.waitForFunction(() => document.getElementById('log')!.textContent!.includes('tick '), undefined, { timeout: 30_000 });
    t.pass('a tick arrived');
    await b.waitForFunction(() => document.getElementById('state')!.textContent === 'open', undefined, { timeout: 30_000 });
    await a.fill('#text', 'hello from a');
    await a.press('#text', 'Enter');
    await b.waitForFunction(() => document.getElementById('log')!.textContent!.includes(': hello from a'), undefined, { timeout: 30_000 });
    t.pass('b got what a said');
  });
}
