// The browser client (browser/megacomet.ts) in a real headless Chromium against
// the real server: every transport gets every message exactly once and in
// order; a native EventSource resumes with Last-Event-ID after its stream is
// cut; a reload mid-stream resumes with nothing lost (sessionStorage); two tabs
// with one client id (the newer wins, the older is told); offline/online; a
// hostile JSONP callback never runs. Waits are on page state, never sleeps.
import t from 'tap';
import type { Page } from 'playwright-core';
import { AppConnection } from './helpers/app-client.js';
import { CuttingProxy, browserMissing, startBrowser, startPageServer } from './helpers/browser.js';
import { startServer } from './helpers/server.js';

const missing = browserMissing();
if (missing !== undefined) {
  // CI installs chromium (.ci/run); a developer machine without it skips, saying why.
  t.skip(`real-browser tests: ${missing}`);
} else {
  await run();
}

async function run(): Promise<void> {
  const server = await startServer(t, ['--poll-timeout', '2', '--heartbeat', '1']);
  const app = await AppConnection.open(server.appPort, t);
  const comet = `http://127.0.0.1:${server.httpPort}`;
  const pages = await startPageServer(t);
  const browser = await startBrowser(t);
  const context = await browser.newContext();
  t.teardown(() => context.close());

  const newPage = async (): Promise<Page> => {
    const page = await context.newPage();
    await page.goto(`${pages}/`);
    return page;
  };
  const connected = (client: string): Promise<void> =>
    (async () => {
      for (;;) {
        if ((await app.status(client)).connected) return;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
  const sendSeq = async (client: string, from: number, n: number): Promise<number[]> => {
    const ids: number[] = [];
    for (let i = from; i < from + n; i++) ids.push(await app.sendTo(client, { seq: i, text: `m${i} </script> \u2028 é` }));
    return ids;
  };
  const seqs = (page: Page): Promise<number[]> => page.evaluate(() => (window as unknown as { got: Array<{ data: { seq: number } }> }).got.map((g) => g.data.seq));
  const waitGot = (page: Page, n: number): Promise<unknown> =>
    page.waitForFunction((k) => (window as unknown as { got: unknown[] }).got.length >= k, n, { timeout: 30_000 });

  for (const transport of ['sse', 'poll', 'jsonp'] as const) {
    t.test(`${transport}: every message exactly once, in order, with its id`, async (t) => {
      const page = await newPage();
      const client = `every-${transport}`;
      t.equal(await page.evaluate(([url, c, tr]) => (window as unknown as { start: (o: object) => string }).start({ url, client: c, transport: tr }), [comet, client, transport] as const), transport);
      await connected(client);
      const ids = await sendSeq(client, 0, 30);
      // A burst while polls cycle: some arrive queued, some to a held poll.
      ids.push(...(await sendSeq(client, 30, 30)));
      await waitGot(page, 60);
      t.same(await seqs(page), Array.from({ length: 60 }, (_, i) => i), 'all 60, once each, in order');
      const got = await page.evaluate(() => (window as unknown as { got: Array<{ data: { text: string }; id: number | null }> }).got);
      t.equal(got[5]!.data.text, 'm5 </script> \u2028 é', 'the data as sent');
      if (transport === 'sse') t.same(got.map((g) => g.id), ids, 'each message with its id');
      else t.equal(got[got.length - 1]!.id, ids[ids.length - 1], "the last message of an answer carries the answer's cursor");
      t.equal(await page.evaluate(() => (window as unknown as { conn: { cursor: number } }).conn.cursor), ids[ids.length - 1]);
      await page.evaluate(() => (window as unknown as { conn: { close(): void } }).conn.close());
      await page.close();
    });
  }

  t.test('native EventSource: the stream is cut, it reconnects with Last-Event-ID, nothing lost or repeated', async (t) => {
    const proxy = await CuttingProxy.start(t, server.httpPort);
    const page = await newPage();
    await page.evaluate((url) => {
      const w = window as unknown as { es: EventSource; raw: Array<[string, string]> };
      w.raw = [];
      w.es = new EventSource(`${url}/events?client=native-1`);
      w.es.onmessage = (e) => w.raw.push([e.lastEventId, e.data as string]);
    }, proxy.url);
    await connected('native-1');
    const first = await sendSeq('native-1', 0, 5);
    await page.waitForFunction(() => (window as unknown as { raw: unknown[] }).raw.length >= 5);
    proxy.cut();
    const rest = await sendSeq('native-1', 5, 5);
    await page.waitForFunction(() => (window as unknown as { raw: unknown[] }).raw.length >= 10, undefined, { timeout: 30_000 });
    const raw = await page.evaluate(() => (window as unknown as { raw: Array<[string, string]> }).raw);
    t.same(raw.map(([id]) => Number(id)), [...first, ...rest], 'ten distinct ids, in order');
    t.same(raw.map(([, d]) => (JSON.parse(d) as { seq: number }).seq), Array.from({ length: 10 }, (_, i) => i));
    const resumed = proxy.heads.filter((h) => h.startsWith('GET /events'));
    t.ok(resumed.length >= 2, 'the browser opened the stream again');
    t.match(resumed[resumed.length - 1]!, new RegExp(`\\r\\nLast-Event-ID: ${first[4]}\\r\\n`, 'i'), 'with Last-Event-ID of the last event it had');
    await page.evaluate(() => (window as unknown as { es: EventSource }).es.close());
    await page.close();
  });

  t.test('a reload mid-stream resumes from sessionStorage with nothing lost', async (t) => {
    const page = await context.newPage();
    const recorded: Array<{ seq: number; id: number | null }> = [];
    await page.exposeFunction('record', (data: { seq: number }, id: number | null) => recorded.push({ seq: data.seq, id }));
    await page.goto(`${pages}/`);
    const start = (): Promise<string> => page.evaluate((url) => (window as unknown as { start: (o: object) => string }).start({ url, client: 'reload-1', transport: 'sse', resume: true }), comet);
    await start();
    await connected('reload-1');
    await sendSeq('reload-1', 0, 10);
    await waitGot(page, 10);
    await page.reload();
    // Sent while the page is gone: the server keeps them for the resumed stream.
    const ids = await sendSeq('reload-1', 10, 10);
    await start();
    await waitGot(page, 10);
    t.same(recorded.map((r) => r.seq), Array.from({ length: 20 }, (_, i) => i), '20 messages across the reload, once each, in order');
    t.equal(recorded[19]!.id, ids[9]);
    await page.close();
  });

  for (const transport of ['sse', 'poll'] as const) {
    t.test(`two tabs, one client id (${transport}): the newer wins, the older is told`, async (t) => {
      const client = `tabs-${transport}`;
      const older = await newPage();
      const newer = await newPage();
      const start = (p: Page): Promise<string> =>
        p.evaluate(([url, c, tr]) => (window as unknown as { start: (o: object) => string }).start({ url, client: c, transport: tr }), [comet, client, transport] as const);
      await start(older);
      await connected(client);
      await older.waitForFunction(() => (window as unknown as { states: string[] }).states.includes('open'));
      await start(newer);
      await older.waitForFunction(() => (window as unknown as { states: string[] }).states.includes('replaced'), undefined, { timeout: 30_000 });
      await connected(client);
      await sendSeq(client, 0, 3);
      await waitGot(newer, 3);
      t.same(await seqs(newer), [0, 1, 2], 'the newer tab gets the messages');
      t.same(await seqs(older), [], 'the older got none and stopped');
      t.equal(await older.evaluate(() => (window as unknown as { conn: { state: string } }).conn.state), 'replaced');
      await older.close();
      await newer.close();
    });
  }

  t.test('offline, then online: the client comes back at once and loses nothing', async (t) => {
    const proxy = await CuttingProxy.start(t, server.httpPort);
    const ctx = await browser.newContext();
    t.teardown(() => ctx.close());
    const page = await ctx.newPage();
    await page.goto(`${pages}/`);
    // A minute's backoff: only the online event can bring it back within the test.
    await page.evaluate((url) => (window as unknown as { start: (o: object) => string }).start({ url, client: 'offline-1', transport: 'poll', minDelayMs: 60_000, maxDelayMs: 60_000 }), proxy.url);
    await connected('offline-1');
    await sendSeq('offline-1', 0, 3);
    await waitGot(page, 3);
    // The browser goes offline, and so does the path (emulation alone may spare a request in flight).
    await ctx.setOffline(true);
    proxy.refusing = true;
    proxy.cut();
    await page.waitForFunction(() => (window as unknown as { states: string[] }).states.some((s) => s.startsWith('reconnecting')), undefined, { timeout: 30_000 });
    await sendSeq('offline-1', 3, 3);
    proxy.refusing = false;
    await ctx.setOffline(false);
    await waitGot(page, 6);
    t.same(await seqs(page), [0, 1, 2, 3, 4, 5], 'all six, once each, in order');
    await page.evaluate(() => (window as unknown as { conn: { close(): void } }).conn.close());
  });

  t.test('a hostile JSONP callback never runs', async (t) => {
    const page = await newPage();
    await app.sendTo('hostile-1', 'x');
    const hostile = ['alert(1)//', 'window.pwned=1;x', 'x);window.pwned=1;(', 'a b', '1abc', '</script><script>window.pwned=1</script>', 'x'.repeat(65)];
    for (const cb of hostile) {
      const outcome = await page.evaluate(
        ([url, c]) =>
          new Promise<string>((resolve) => {
            const s = document.createElement('script');
            s.onload = () => resolve('load');
            s.onerror = () => resolve('error');
            s.src = `${url}/poll?client=hostile-1&callback=${encodeURIComponent(c)}`;
            document.head.appendChild(s);
          }),
        [comet, cb] as const,
      );
      t.equal(outcome, 'error', `callback ${JSON.stringify(cb)}: the 400 is not run as a script`);
    }
    t.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined, 'nothing ran');
    await page.close();
  });
}
