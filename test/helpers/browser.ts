// Real-browser fixtures: Debian's chromium, started by the test through
// playwright-core's launchServer (so its PID is known and it is stopped by
// PID), a static page server for the browser client's builds, and a TCP
// proxy between the browser and the comet server that can cut every
// connection (a network loss the server did not choose).
import { existsSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserServer } from 'playwright-core';
import type { Test } from 'tap';

export const CHROMIUM = process.env.MEGACOMET_CHROMIUM ?? '/usr/bin/chromium';
const DIST = fileURLToPath(new URL('../../dist/browser/', import.meta.url));

/** Why the browser tests cannot run here, or undefined. */
export function browserMissing(): string | undefined {
  if (!existsSync(CHROMIUM)) return `no chromium at ${CHROMIUM} (apt-get install chromium; .ci/run does)`;
  if (!existsSync(`${DIST}megacomet.js`)) return 'dist/browser is not built (npm run build)';
  return undefined;
}

/** Starts headless chromium; stopped (by PID, if closing fails) at the end of `t`. */
export async function startBrowser(t: Test): Promise<Browser> {
  const server: BrowserServer = await chromium.launchServer({
    executablePath: CHROMIUM,
    headless: true,
    // Root in a container has no user namespace for the sandbox.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
    // A sanitizer preload meant for the engine (native/asan.mk) is not for the browser.
    env: Object.fromEntries(Object.entries(process.env).filter(([k, v]) => k !== 'LD_PRELOAD' && v !== undefined)) as Record<string, string>,
  });
  const pid = server.process().pid;
  const browser = await chromium.connect(server.wsEndpoint());
  t.teardown(async () => {
    await browser.close().catch(() => undefined);
    await server.close().catch(() => undefined);
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  return browser;
}

/** Serves the browser client builds and a test page on a free loopback port. */
export async function startPageServer(t: Test): Promise<string> {
  const page = `<!doctype html><meta charset="utf-8"><title>megacomet test</title>
<script src="/megacomet.js"></script>
<script>
  window.got = []; window.states = [];
  window.start = (opts) => {
    window.conn = MegaComet.connect(Object.assign({}, opts, {
      onMessage: (data, id) => { window.got.push({ data, id }); if (window.record) window.record(data, id === undefined ? null : id); },
      onState: (state, detail) => window.states.push(state + (detail.error ? ':' + detail.error : '')),
    }));
    return window.conn.transport;
  };
</script>`;
  const server: HttpServer = createHttpServer((req, res) => {
    if (req.url === '/megacomet.js' || req.url === '/megacomet.mjs') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(readFileSync(`${DIST}${req.url.slice(1)}`));
    } else {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(page);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  server.unref();
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * A TCP proxy to 127.0.0.1:`target`: cut() resets every connection through it; while `refusing`,
 * new connections are reset at once (the network is down, whatever the browser believes);
 * heads records each request head.
 */
export class CuttingProxy {
  readonly heads: string[] = [];
  refusing = false;
  private readonly pairs = new Set<[Socket, Socket]>();
  private constructor(private readonly server: Server) {}

  static async start(t: Test, target: number): Promise<CuttingProxy> {
    let proxy: CuttingProxy | undefined;
    const server = createServer((down) => {
      if (proxy!.refusing) {
        down.on('error', () => undefined);
        down.resetAndDestroy();
        return;
      }
      const up = connect(target, '127.0.0.1');
      const pair: [Socket, Socket] = [down, up];
      proxy!.pairs.add(pair);
      let first = true;
      down.on('data', (d: Buffer) => {
        if (first) proxy!.heads.push(d.toString('latin1'));
        first = false;
        up.write(d);
      });
      up.pipe(down);
      const end = (): void => {
        proxy!.pairs.delete(pair);
        down.destroy();
        up.destroy();
      };
      down.on('close', end).on('error', end);
      up.on('close', end).on('error', end);
    });
    proxy = new CuttingProxy(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(() => {
      proxy!.cut();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get open(): number {
    return this.pairs.size;
  }

  /** Resets every connection through the proxy (both sides see a reset, as when a network path dies). */
  cut(): void {
    for (const [down, up] of this.pairs) {
      down.resetAndDestroy();
      up.resetAndDestroy();
    }
    this.pairs.clear();
  }
}
