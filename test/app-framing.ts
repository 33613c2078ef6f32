// How the app port cuts its byte stream into requests: pipelining, blank
// lines, \r\n, lines split across packets, the --max-line limit, and
// backpressure from a client that does not read its replies.
import t from 'tap';
import { once } from 'node:events';
import { startHarness } from './helpers/app-harness.js';
import { sleep } from './helpers/wait.js';

t.test('1000 pipelined lines in one write are answered in order', async (t) => {
  const h = await startHarness({ maxQueue: 5 });
  t.teardown(() => h.close());
  const app = await h.connect();
  const kinds = [
    (i: number) => `{"op":"send","client":"c${i % 7}","data":${i},"ref":${i}}`,
    (i: number) => `{"op":"status","client":"c${i % 7}","ref":${i}}`,
    (i: number) => `{"op":"stats","ref":${i}}`,
    (i: number) => `{"op":"nope","ref":${i}}`,
    () => `{not json`,
  ];
  const lines = Array.from({ length: 1000 }, (_, i) => kinds[i % kinds.length]!(i));
  app.write(lines.join('\n') + '\n');
  let inOrder = 0;
  let badJson = 0;
  for (let i = 0; i < lines.length; i++) {
    const reply = JSON.parse(await app.line()) as { ref?: number; error?: string };
    if (i % kinds.length === 4) {
      if (reply.error === 'bad_json' && reply.ref === undefined) badJson++;
    } else if (reply.ref === i) {
      inOrder++;
    }
  }
  t.equal(inOrder, 800, 'every reply with a ref came in request order');
  t.equal(badJson, 200, 'every broken line got bad_json in its place');
  t.match(h.manager.stats(), { sent: 35, refused: 165 }, 'sends beyond the queue limit were refused, not lost');
});

t.test('a bad line never affects the lines around it', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const app = await h.connect();
  app.write('{"op":\n{"op":"stats","ref":1}\n\u00ff\u0000garbage\n{"op":"status","client":"a","ref":2}\n');
  t.match(JSON.parse(await app.line()), { error: 'bad_json' });
  t.match(JSON.parse(await app.line()), { ok: true, ref: 1 });
  t.match(JSON.parse(await app.line()), { error: 'bad_json' });
  t.match(JSON.parse(await app.line()), { ok: true, ref: 2 });
});

t.test('blank lines are skipped without a reply and \\r\\n ends a line', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const app = await h.connect();
  app.write('\n\r\n   \n\t \r\n{"op":"stats","ref":1}\r\n\n{"op":"stats","ref":2}\n \n');
  t.match(JSON.parse(await app.line()), { ok: true, ref: 1 }, 'the first reply is the first request\'s');
  t.match(JSON.parse(await app.line()), { ok: true, ref: 2 });
  app.write('{"op":"stats","ref":3}\n');
  t.match(JSON.parse(await app.line()), { ok: true, ref: 3 }, 'nothing was answered in between');
  t.equal(app.unread, 0);
});

t.test('a line split across many packets, even inside a UTF-8 character, is one request', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const app = await h.connect();
  h.manager.onPoll(0, 1, 'u', 0);
  const data = '"caf\u00e9 \ud83d\ude00"';
  const bytes = Buffer.from(`{"op":"send","client":"u","data":${data}}\r\n`);
  for (let i = 0; i < bytes.length; i++) {
    app.write(bytes.subarray(i, i + 1));
    await new Promise((resolve) => setImmediate(resolve));
  }
  const reply = JSON.parse(await app.line()) as { id: number };
  t.same(h.links.take(), [{ worker: 0, handle: 1, body: `{"cursor":${reply.id},"messages":[${data}]}` }]);
});

t.test('a line over --max-line is answered too_large and the connection closed', async (t) => {
  const maxLine = 1000;

  t.test('after the lines before it are answered', async (t) => {
    const h = await startHarness({ maxLine });
    t.teardown(() => h.close());
    const app = await h.connect();
    app.write(`{"op":"stats","ref":1}\n{"op":"stats","ref":"${'x'.repeat(maxLine)}"}\n{"op":"stats","ref":3}\n`);
    t.match(JSON.parse(await app.line()), { ok: true, ref: 1 });
    const reply = JSON.parse(await app.line()) as Record<string, unknown>;
    t.same(Object.keys(reply), ['ok', 'error', 'message']);
    t.match(reply, { ok: false, error: 'too_large', message: /1000/ });
    await app.closed;
    t.equal(app.unread, 0, 'nothing after it was answered');
  });

  t.test('as soon as the limit is passed, before any newline arrives', async (t) => {
    const h = await startHarness({ maxLine });
    t.teardown(() => h.close());
    const app = await h.connect();
    app.write('{"op":"stats","ref":"' + 'y'.repeat(maxLine));
    t.match(JSON.parse(await app.line()), { error: 'too_large' });
    await app.closed;
  });

  t.test('while the client keeps sending, without losing the reply', async (t) => {
    const h = await startHarness({ maxLine });
    t.teardown(() => h.close());
    const app = await h.connect();
    const junk = Buffer.alloc(64 * 1024, 'z');
    let sent = 0;
    let stop = false;
    // As fast as the server takes it: the next write waits for the last one to drain.
    const pump = (async () => {
      while (!stop && sent < 4 * 1024 * 1024 && !app.socket.destroyed) {
        sent += junk.length;
        if (!app.socket.write(junk)) await Promise.race([once(app.socket, 'drain'), app.closed]);
      }
    })().catch(() => undefined); // a write after the server's close fails; the reply is what counts
    t.match(JSON.parse(await app.line()), { error: 'too_large' });
    stop = true;
    app.socket.end();
    await app.closed;
    await pump;
  });

  t.test('but a line of exactly --max-line bytes is fine, with \\n or \\r\\n', async (t) => {
    const h = await startHarness({ maxLine });
    t.teardown(() => h.close());
    const app = await h.connect();
    const line = (ref: number) => {
      const head = `{"op":"stats","ref":${ref},"pad":"`;
      return head + 'p'.repeat(maxLine - head.length - 2) + '"}';
    };
    t.equal(Buffer.byteLength(line(1)), maxLine);
    app.write(line(1) + '\n');
    t.match(JSON.parse(await app.line()), { ok: true, ref: 1 });
    await new Promise((resolve) => app.socket.write(line(2) + '\r', resolve));
    // The server reads this connection before it reads a request that comes later on another.
    const other = await h.connect();
    t.match(await other.request('{"op":"stats"}'), { ok: true });
    app.write('\n');
    t.match(JSON.parse(await app.line()), { ok: true, ref: 2 }, 'the \\r may arrive in a packet of its own');
    app.write(line(3) + 'x\n');
    t.match(JSON.parse(await app.line()), { error: 'too_large' }, 'one byte more is too large');
    await app.closed;
  });

  t.test('the limit counts bytes, not characters', async (t) => {
    const h = await startHarness({ maxLine });
    t.teardown(() => h.close());
    const app = await h.connect();
    app.write(`{"op":"stats","ref":"${'\u00e9'.repeat(maxLine / 2)}"}\n`);
    t.match(JSON.parse(await app.line()), { error: 'too_large' });
    await app.closed;
  });
});

t.test('a client that does not read its replies stops being read, and loses nothing', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const app = await h.connect();
  app.socket.pause();
  // Requests whose replies are about as large as they are, so the server would buffer as much as it reads.
  const request = (i: number) => `{"op":"status","client":"c","ref":[${i},"${'r'.repeat(200)}"]}\n`;
  const limit = 64 * 1024 * 1024;
  const other = await h.connect();
  let written = 0;
  let count = 0;
  let stalled = false;
  while (written < limit && !stalled) {
    const line = request(count++);
    written += line.length;
    if (!app.socket.write(line)) {
      let drained = false;
      const drain = once(app.socket, 'drain').then(() => (drained = true));
      // The window is a negative check: no drain in it. The server (in this
      // process) answers another connection after reading whatever of ours was
      // ready, and our socket's writability is handled before that answer, so
      // after the round trip a server still reading would have drained us.
      await Promise.race([drain, sleep(500)]);
      if (!drained) {
        t.match(await other.request('{"op":"stats"}'), { ok: true });
        stalled = !drained;
      }
      if (!stalled) await drain;
    }
  }
  t.ok(stalled, `the server stopped reading after ${Math.round(written / 1024)} KiB (no drain for 500 ms)`);
  t.ok(app.socket.writableLength > 0, 'and our requests wait on our side');

  app.socket.resume();
  let inOrder = 0;
  for (let i = 0; i < count; i++) {
    const reply = JSON.parse(await app.line()) as { ref: [number, string] };
    if (reply.ref[0] === i) inOrder++;
  }
  t.equal(inOrder, count, `all ${count} replies arrive, in order, once the client reads`);
});
