// The MegaComet demo: one command (`npm run demo`) starts a MegaComet server,
// connects this app to it with the package's AppClient, and serves one page
// that subscribes with the browser client (megacomet/browser). Open the page
// in two windows: the clock ticks arrive once a second, and what you type in
// one window arrives in every window, exactly once, in order, also after you
// reload a page or cut the network for a while.
//
//   npm run demo                       then open the URL it prints
//   DEMO_PORT=3000 npm run demo        the page's port (default 3000)
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { AppClient } from 'megacomet';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pagePort = Number(process.env.DEMO_PORT ?? 3000);

// 1. A MegaComet server on free ports (it prints one ready line with them).
const server = spawn(process.execPath, [`${root}dist/main.js`, '--host', process.env.DEMO_HOST ?? '127.0.0.1', '--port', '0', '--app-port', '0', '--threads', '2'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const ready = await new Promise((resolve, reject) => {
  let out = '';
  server.stdout.on('data', (d) => {
    out += d;
    const m = /megacomet ready: http:\/\/[^:]+:(\d+) app=([^:]+):(\d+)/.exec(out);
    if (m) resolve({ httpPort: Number(m[1]), appHost: m[2], appPort: Number(m[3]) });
  });
  server.once('exit', (code) => reject(new Error(`the MegaComet server exited (${code}); run npm run build first`)));
});
const stop = () => {
  server.kill('SIGTERM');
  process.exit(0);
};
process.on('SIGINT', stop).on('SIGTERM', stop);

// 2. The app: a set of subscribers, a tick every second, and what they say.
const app = await AppClient.connect({ host: ready.appHost, port: ready.appPort });
const members = new Set();
const broadcast = async (data) => {
  if (members.size > 0) await app.sendMany([...members], data);
};
setInterval(() => void broadcast({ kind: 'tick', at: new Date().toISOString() }).catch(() => undefined), 1000);

// 3. The page, the browser client, and two tiny endpoints: join and say.
const page = readFileSync(new URL('./page.html', import.meta.url), 'utf8').replace('__COMET__', `http://${process.env.DEMO_HOST ?? '127.0.0.1'}:${ready.httpPort}`);
const client = readFileSync(`${root}dist/browser/megacomet.js`);
createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const id = url.searchParams.get('client') ?? '';
  if (url.pathname === '/megacomet.js') {
    res.writeHead(200, { 'content-type': 'text/javascript' }).end(client);
  } else if (url.pathname === '/join' && /^[A-Za-z0-9_:-]{1,64}$/.test(id)) {
    members.add(id);
    res.writeHead(204).end();
  } else if (url.pathname === '/say' && req.method === 'POST') {
    let body = '';
    req.on('data', (d) => (body += d)).on('end', () => {
      void broadcast({ kind: 'say', from: id.slice(0, 8), text: body.slice(0, 500) }).then(
        () => res.writeHead(204).end(),
        (err) => res.writeHead(503).end(String(err.message)),
      );
    });
  } else {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
  }
}).listen(pagePort, process.env.DEMO_HOST ?? '127.0.0.1', () => {
  console.log(`MegaComet demo: open http://${process.env.DEMO_HOST ?? '127.0.0.1'}:${pagePort}/ (in two windows). Ctrl-C stops it.`);
});
