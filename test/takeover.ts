// A planned restart without losing a message (docs/OPERATIONS.md, "Restart
// without losing a message"): a new process started with --takeover (or by
// SIGUSR2) takes every queue, the acknowledged cursors and the id counter
// from the running one, on the same ports; the old one answers its held
// polls and exits 0. Everything queued is delivered once, after the handover.
import t from 'tap';
import { AppClient, SendOutcomeUnknownError } from '../src/client/index.js';
import { AppConnection } from './helpers/app-client.js';
import { RawHttpConnection, requestBytes } from './helpers/http-client.js';
import { pollBody } from './helpers/poll.js';
import { startServer } from './helpers/server.js';
import { controlSocketPath, expectLogged, takeOver } from './helpers/takeover.js';
import { waitFor, withTimeout } from './helpers/wait.js';
import { PollerFleet } from './helpers/pollers.js';

const OFFLINE = 20;
const HELD = 10;

async function poll(port: number, client: string, since: number, t: Parameters<typeof RawHttpConnection.open>[1]): Promise<{ cursor: number; messages: unknown[] }> {
  const conn = await RawHttpConnection.open(port, t);
  const res = await conn.get(`/poll?client=${client}&since=${since}`, {}, { timeoutMs: 15_000 });
  conn.destroy();
  return pollBody(res);
}

t.test('a handover keeps queued messages, answers held polls, and ids go on above the old ones', async (t) => {
  const path = controlSocketPath(t);
  const old = await startServer(t, ['--poll-timeout', '30', '--control-socket', path]);
  const app = await AppConnection.open(old.appPort, t);

  // Offline clients: messages queued, never polled.
  const queued = new Map<string, Array<{ id: number; data: unknown }>>();
  for (let i = 0; i < OFFLINE; i++) {
    const list: Array<{ id: number; data: unknown }> = [];
    for (let k = 0; k < 3; k++) {
      const data = { client: i, k, text: 'é \u2028 日本 \u{1F600}', big: 12345678901234567890 };
      list.push({ id: await app.sendTo(`off-${i}`, data), data });
    }
    queued.set(`off-${i}`, list);
  }
  // Big integers and exact bytes: a raw line whose data must come back as written.
  const rawData = '{"n":123456789012345678901234567890,"s":"\\u00e9"}';
  const raw = await app.request({ op: 'send', client: 'raw', data: JSON.parse('0') });
  t.ok(raw.ok);
  app.writeRaw(`{"op":"send","client":"raw","data":${rawData}}\n`);
  const rawReply = await app.readReply();
  t.ok(rawReply.ok, 'raw send accepted');

  // Delivered by the old process, not acknowledged yet.
  const firstId = await app.sendTo('unacked', 'one');
  const secondId = await app.sendTo('unacked', 'two');
  const got = await poll(old.httpPort, 'unacked', 0, t);
  t.same(got.messages, ['one', 'two'], 'delivered by the old process');

  // Held polls.
  const held: RawHttpConnection[] = [];
  for (let i = 0; i < HELD; i++) {
    const conn = await RawHttpConnection.open(old.httpPort, t);
    conn.write(requestBytes('GET', `/poll?client=held-${i}&since=${i + 1}`));
    held.push(conn);
  }
  await waitFor(`${HELD} held polls`, async () => (await app.stats()).held_polls === HELD);
  const lastOldId = rawReply.id!;

  const { next, oldExit } = await takeOver(t, old, path, ['--poll-timeout', '30']);
  t.same(oldExit, { code: 0, signal: null }, 'the old process exits 0');
  t.equal(next.httpPort, old.httpPort, 'the same HTTP port');
  t.equal(next.appPort, old.appPort, 'the same app port');
  await expectLogged(t, old, /takeover by pid \d+: it has the state and the app port/);
  await expectLogged(t, next, new RegExp(`took over from pid ${old.pid} in \\d+ ms: ${OFFLINE + 2} queues, ${OFFLINE * 3 + 4} messages`));

  // Held polls were answered empty with their own cursor by the old process.
  for (const [i, conn] of held.entries()) {
    const res = await conn.readResponse({ timeoutMs: 15_000 });
    t.same(pollBody(res), { cursor: i + 1, messages: [] }, `held poll ${i} answered empty with its cursor`);
  }
  t.ok(app.isClosed || (await app.waitClosed()), 'the app connection to the old process was closed');

  // Offline clients get their messages from the new process, with the old ids; polling on with
  // that cursor acknowledges them and gets nothing again (the poll is held, nothing is queued).
  const app2 = await AppConnection.open(next.appPort, t);
  for (const [client, list] of queued) {
    const body = await poll(next.httpPort, client, 0, t);
    t.same(body.messages, list.map((m) => JSON.parse(JSON.stringify(m.data))), `${client}: its 3 messages`);
    t.equal(body.cursor, list[2]!.id, `${client}: the cursor is the old process's id`);
    const onward = await RawHttpConnection.open(next.httpPort, t);
    onward.write(requestBytes('GET', `/poll?client=${client}&since=${body.cursor}`));
    await waitFor(`${client}'s next poll held with nothing queued`, async () => {
      const s = await app2.status(client);
      return s.connected && s.queued === 0;
    });
    onward.destroy();
  }
  const rawConn = await RawHttpConnection.open(next.httpPort, t);
  const rawRes = await rawConn.get('/poll?client=raw&since=0');
  t.equal(rawRes.text, `{"cursor":${lastOldId},"messages":[0,${rawData}]}`, 'data byte for byte as the app wrote it');

  // Delivered but not acknowledged: still queued; the cursor acknowledges what the client saw.
  const rest = await poll(next.httpPort, 'unacked', firstId, t);
  t.same(rest, { cursor: secondId, messages: ['two'] }, 'acknowledged by cursor in the new process');

  // The new process takes sends; ids go on above every old id; a held poll there gets them.
  const heldNow = await RawHttpConnection.open(next.httpPort, t);
  heldNow.write(requestBytes('GET', '/poll?client=held-0&since=1'));
  await waitFor('the poll held by the new process', async () => (await app2.status('held-0')).connected);
  const newId = await app2.sendTo('held-0', 'after');
  t.ok(newId > lastOldId, `new id ${newId} is above the old process's last ${lastOldId}`);
  t.same(pollBody(await heldNow.readResponse()), { cursor: newId, messages: ['after'] });
  const stats = await app2.stats();
  t.equal(stats.queued, 2 + 1 + 1, 'left queued, none acknowledged yet: the raw client\'s two, unacked\'s second, and the one just delivered');
});

t.test('sends in flight during a handover: every ok is delivered once, unknown outcomes at most once', async (t) => {
  const path = controlSocketPath(t);
  const old = await startServer(t, ['--control-socket', path]);
  const clients = Array.from({ length: 50 }, (_, i) => `flow-${i}`);
  const fleet = new PollerFleet(old.httpPort, clients);
  fleet.start();
  t.teardown(() => fleet.stop());
  const app = await AppClient.connect({ port: old.appPort, reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
  t.teardown(() => app.close());
  const ok = new Map<string, Set<number>>(clients.map((c) => [c, new Set()]));
  const unknown = new Map<string, Set<number>>(clients.map((c) => [c, new Set()]));
  let seq = 0;
  let stop = false;
  let errors = 0;
  const sender = (async () => {
    const inFlight = new Set<Promise<void>>();
    while (!stop) {
      const s = ++seq;
      const client = clients[s % clients.length]!;
      const p = app.send(client, { s }).then(
        () => void ok.get(client)!.add(s),
        (err: unknown) => {
          if (err instanceof SendOutcomeUnknownError) unknown.get(client)!.add(s);
          else errors++;
        },
      );
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      if (inFlight.size >= 16) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  })();
  await waitFor('some sends to the old process', () => seq > 300);
  const { oldExit } = await takeOver(t, old, path);
  t.same(oldExit, { code: 0, signal: null });
  const after = seq;
  await waitFor('some sends to the new process', () => seq > after + 300, { timeoutMs: 30_000 });
  stop = true;
  await withTimeout(sender, 30_000, 'the sender to finish');
  const okCount = [...ok.values()].reduce((n, s) => n + s.size, 0);
  await waitFor(
    'every ok message delivered',
    () => fleet.pollers.every((p) => ok.get(p.client)!.size <= p.messages.length),
    { timeoutMs: 30_000 },
  );
  let duplicates = 0;
  let outOfOrder = 0;
  let lost = 0;
  let unknownDelivered = 0;
  for (const p of fleet.pollers) {
    const seen = new Set<number>();
    let last = 0;
    for (const m of p.messages) {
      const s = (m as { s: number }).s;
      if (seen.has(s)) duplicates++;
      if (s <= last) outOfOrder++;
      seen.add(s);
      last = s;
      if (unknown.get(p.client)!.has(s)) unknownDelivered++;
      else if (!ok.get(p.client)!.has(s)) lost++; // delivered but never sent: counts as an error below
    }
    for (const s of ok.get(p.client)!) if (!seen.has(s)) lost++;
  }
  const unknownCount = [...unknown.values()].reduce((n, s) => n + s.size, 0);
  t.comment(`${okCount} ok, ${unknownCount} outcome unknown (${unknownDelivered} of them delivered), ${errors} refused`);
  t.equal(errors, 0, 'no send refused');
  t.equal(lost, 0, 'no acknowledged message lost');
  t.equal(duplicates, 0, 'none delivered twice');
  t.equal(outOfOrder, 0, 'in send order');
  t.equal(fleet.counts.errors, 0, 'no HTTP error');
});

t.test('SIGUSR2 starts a successor with the same flags; it takes over and the old process exits 0', async (t) => {
  const old = await startServer(t, ['--poll-timeout', '30']);
  const app = await AppConnection.open(old.appPort, t);
  const id = await app.sendTo('usr2', { waiting: true });
  old.expectExit();
  process.kill(old.pid, 'SIGUSR2');
  const successor = Number(
    (await waitFor('the successor pid in the log', () => /started the successor, pid (\d+)/.exec(old.stderr())?.[1], { timeoutMs: 15_000 })),
  );
  t.teardown(() => {
    try {
      process.kill(successor, 'SIGKILL');
    } catch {
      // Gone already.
    }
  });
  t.same(await withTimeout(old.exited, 30_000, 'the old process to exit'), { code: 0, signal: null }, 'the old process exits 0');
  // The successor inherited stdout and stderr: its ready line and log come through the same pipes.
  await waitFor('the successor ready line', () => old.stdout().split('\n').filter((l) => l.startsWith('megacomet ready:')).length === 2, { timeoutMs: 15_000 });
  await expectLogged(t, old, new RegExp(`took over from pid ${old.pid} in \\d+ ms: 1 queues, 1 messages`));
  await expectLogged(t, old, /--takeover --control-socket \S+megacomet-\d+-\d+\.sock/, 'it was started with --takeover and the control socket');
  const body = await poll(old.httpPort, 'usr2', 0, t);
  t.same(body, { cursor: id, messages: [{ waiting: true }] }, 'the queued message is delivered by the successor');
  const app2 = await AppConnection.open(old.appPort, t);
  t.ok((await app2.sendTo('usr2', 2)) > id, 'the successor takes sends');
  process.kill(successor, 'SIGTERM');
  await waitFor('the successor to exit on SIGTERM', () => {
    try {
      process.kill(successor, 0);
      return false;
    } catch {
      return true;
    }
  }, { timeoutMs: 15_000 });
});

t.test('a handover keeps group memberships and the publishes pending for members', async (t) => {
  const path = controlSocketPath(t);
  const old = await startServer(t, ['--poll-timeout', '30', '--control-socket', path]);
  const app = await AppConnection.open(old.appPort, t);
  t.match(await app.request({ op: 'join', clients: ['gm-1', 'gm-2'], group: 'handover.room' }), { ok: true, members: 2 });
  const before = await app.request({ op: 'publish', group: 'handover.room', data: 'before' });
  t.match(before, { ok: true, queued: 2 });

  const { next } = await takeOver(t, old, path, ['--poll-timeout', '30']);
  await expectLogged(t, next, /took over from pid \d+ in \d+ ms: 2 queues, 2 messages, \d+ data bytes, 2 memberships/);
  const app2 = await AppConnection.open(next.appPort, t);
  t.match(await app2.request({ op: 'status', client: 'gm-1' }), { ok: true, queued: 1, groups: ['handover.room'] });
  const body = await poll(next.httpPort, 'gm-1', 0, t);
  t.same(body, { cursor: before.id, messages: ['before'] }, 'the pending publish, under its id');
  const after = await app2.request({ op: 'publish', group: 'handover.room', data: 'after' });
  t.match(after, { ok: true, queued: 2, full: 0 }, 'the group is whole in the new process');
  t.same(await poll(next.httpPort, 'gm-2', 0, t), { cursor: after.id, messages: ['before', 'after'] });
});
