// --redis end to end: real server processes sharing a real Redis. A message
// sent to any node reaches its client polling (or streaming) any other node,
// acknowledged by the same cursor; Redis going away refuses sends with
// store_unavailable and the nodes recover by themselves.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { AppConnection } from './helpers/app-client.js';
import { httpGet } from './helpers/http-client.js';
import { pollBody } from './helpers/poll.js';
import { redisMissing, startRedis, startRedisCluster, startSentinel, TLS_CERT } from './helpers/redis.js';
import calculateSlot from 'cluster-key-slot';
import { MAIN, startServer, type RunningServer } from './helpers/server.js';
import { SseStream } from './helpers/sse-client.js';
import { waitFor } from './helpers/wait.js';
import { controlSocketPath, expectLogged, takeOver } from './helpers/takeover.js';
import { expectAppError } from './helpers/expect.js';

const missing = redisMissing();
if (missing !== undefined) {
  t.skip(`needs a real Redis: ${missing}`);
} else {
  // Sentinel and Cluster failovers take seconds each: more than the runner's 120 s per file on a busy box.
  t.setTimeout(300_000);
  const nodes = async (t: Test, url: string, n: number, extra: string[] = []): Promise<RunningServer[]> =>
    Promise.all(Array.from({ length: n }, () => startServer(t, ['--redis', url, '--threads', '1', ...extra])));

  /** Waits until `node` holds `n` polls (stats), so a send after it is for a held poll. */
  const heldOn = (app: AppConnection, n: number): Promise<unknown> =>
    waitFor(`${n} held polls`, async () => (await app.request({ op: 'stats' })).held_polls === n);

  t.test('a message sent on one node reaches a poll held on another, acknowledged by its cursor anywhere', async (t) => {
    const redis = await startRedis(t);
    const [a, b, c] = await nodes(t, redis.url, 3);
    const appA = await AppConnection.open(a!.appPort, t);
    const appB = await AppConnection.open(b!.appPort, t);
    const held = httpGet(t, b!.httpPort, '/poll?client=alice&since=0');
    await heldOn(appB, 1);
    const id = await appA.sendTo('alice', { hello: 'from A' });
    const body = pollBody(await held);
    t.same(body, { cursor: id, messages: [{ hello: 'from A' }] }, 'delivered on B with the id A answered');

    const again = pollBody(await httpGet(t, c!.httpPort, '/poll?client=alice&since=0'));
    t.same(again, body, 'an answer lost in transit comes again on any node: the old cursor did not acknowledge it');
    const second = await appB.sendTo('alice', 2);
    t.ok(second > id, 'ids increase across nodes');
    const next = pollBody(await httpGet(t, a!.httpPort, `/poll?client=alice&since=${id}`));
    t.same(next, { cursor: second, messages: [2] }, 'the cursor acknowledged the first: only the second');
    t.same(await appC(c!, t).then((app) => app.status('alice')), { connected: false, queued: 1 }, 'status counts what Redis holds');
    // Data too large to ride in the notification: the holder reads it from Redis.
    const large = 'y'.repeat(5000);
    const heldLarge = httpGet(t, c!.httpPort, `/poll?client=alice&since=${second}`);
    await heldOn(await appC(c!, t), 1);
    const third = await appA.sendTo('alice', large);
    t.same(pollBody(await heldLarge), { cursor: third, messages: [large] }, 'a large message reaches a poll held on another node too');
  });

  /** An app connection to `node`. */
  const appC = (node: RunningServer, t: Test): Promise<AppConnection> => AppConnection.open(node.appPort, t);

  t.test('an event stream on one node gets what is sent on another, and resumes by Last-Event-ID elsewhere', async (t) => {
    const redis = await startRedis(t);
    const [a, b] = await nodes(t, redis.url, 2);
    const appA = await AppConnection.open(a!.appPort, t);
    const appB = await AppConnection.open(b!.appPort, t);
    const first = await appA.sendTo('sse', 'backlog');
    const stream = await SseStream.open(b!.httpPort, '/events?client=sse', {}, t);
    const [backlog] = await stream.take(1);
    t.same([backlog!.id, backlog!.data], [String(first), '"backlog"'], 'the backlog when it opens');
    const ids = [await appA.sendTo('sse', 1), await appB.sendTo('sse', 2), await appA.sendTo('sse', 3)];
    const events = await stream.take(3);
    t.same(events.map((e) => Number(e.id)), ids, 'each message once, in id order, as it is sent');
    stream.close();
    const resumed = await SseStream.open(a!.httpPort, '/events?client=sse', { 'Last-Event-ID': String(ids[0]) }, t);
    const rest = await resumed.take(2);
    t.same(rest.map((e) => Number(e.id)), ids.slice(1), 'a reconnect to another node resumes after Last-Event-ID');
    resumed.close();
  });

  t.test('a re-poll with the cursor of a complete answer is held without a read; its acknowledgement still reaches Redis', async (t) => {
    const redis = await startRedis(t);
    const [a] = await nodes(t, redis.url, 1);
    const app = await AppConnection.open(a!.appPort, t);
    const check = redis.client();
    // Every command goes to the slow log, with its arguments: which functions ran is read there.
    await check.config('SET', 'slowlog-log-slower-than', '0');
    await check.config('SET', 'slowlog-max-len', '1000');
    const functionsRun = async (): Promise<string[]> => {
      const entries = (await check.call('SLOWLOG', 'GET', '1000')) as Array<[number, number, number, string[]]>;
      return entries.map((e) => e[3]).filter((args) => args[0]?.toUpperCase() === 'FCALL').map((args) => args[1]!).reverse();
    };
    const held = httpGet(t, a!.httpPort, '/poll?client=dana&since=0');
    await heldOn(app, 1);
    const id = await app.sendTo('dana', 'one');
    t.same(pollBody(await held), { cursor: id, messages: ['one'] });
    await check.call('SLOWLOG', 'RESET');
    const next = httpGet(t, a!.httpPort, `/poll?client=dana&since=${id}`);
    await heldOn(app, 1);
    await waitFor('the acknowledgement to trim the stream', async () => (await check.xlen('mc:{dana}')) === 0);
    t.same(await functionsRun(), ['mc_ack'], 'one call: the batched acknowledgement, no read');
    const second = await app.sendTo('dana', 'two');
    t.same(pollBody(await next), { cursor: second, messages: ['two'] }, 'the next message still reaches the poll held without a read');
  });

  t.test('groups are refused with unsupported; a full queue with queue_full', async (t) => {
    const redis = await startRedis(t);
    const [a] = await nodes(t, redis.url, 1, ['--max-queue', '1']);
    const app = await AppConnection.open(a!.appPort, t);
    for (const request of [
      { op: 'join', client: 'x', group: 'g' },
      { op: 'leave', client: 'x', group: 'g' },
      { op: 'publish', group: 'g', data: 1 },
      { op: 'group', group: 'g' },
    ]) {
      expectAppError(t, await app.request(request), 'unsupported');
    }
    await app.sendTo('x', 1);
    expectAppError(t, await app.request({ op: 'send', client: 'x', data: 2, ref: 'r' }), 'queue_full');
    const many = await app.request({ op: 'send', clients: ['y', 'x'], data: 3 });
    expectAppError(t, many, 'queue_full');
    t.same(await app.status('y'), { connected: false, queued: 0 }, 'one to many is all or nothing');
  });

  t.test('Redis gone: sends refused with store_unavailable, polls held; back: the nodes recover by themselves', async (t) => {
    const redis = await startRedis(t, { appendfsync: 'everysec' });
    const [a, b] = await nodes(t, redis.url, 2);
    const appA = await AppConnection.open(a!.appPort, t);
    const appB = await AppConnection.open(b!.appPort, t);
    const kept = await appA.sendTo('kept', 'before');
    await redis.stop();
    const refused = await waitFor('a refused send', async () => {
      const reply = await appA.request({ op: 'send', client: 'bob', data: 'during' });
      return reply.ok ? false : reply;
    });
    expectAppError(t, refused, 'store_unavailable');
    const counted = await appA.request({ op: 'stats' });
    t.ok((counted.refused_store_unavailable as number) >= 1 && counted.refused === counted.refused_store_unavailable, 'stats counts the refusals by reason');
    const held = httpGet(t, b!.httpPort, '/poll?client=bob&since=0');
    await heldOn(appB, 1);
    await redis.restart();
    const after = await waitFor('a send accepted again', async () => {
      const reply = await appA.request({ op: 'send', client: 'bob', data: 'after' });
      return reply.ok ? reply : false;
    }, { timeoutMs: 20_000 });
    const body = pollBody(await held);
    t.same(body, { cursor: after.id, messages: ['after'] }, 'the poll held through the outage gets the message sent after it');
    const old = pollBody(await httpGet(t, b!.httpPort, '/poll?client=kept&since=0'));
    t.same(old, { cursor: kept, messages: ['before'] }, 'a message acknowledged before the restart survived it (appendonly)');
    t.notOk(a!.hasExited() || b!.hasExited(), 'both nodes kept running');
    t.match(a!.stderr(), /unreachable/, 'the outage is logged');
  });

  t.test('through Redis Sentinel: nodes find the master, and follow it when the replica takes over', async (t) => {
    const master = await startRedis(t);
    const replica = await startRedis(t, { args: ['--replicaof', '127.0.0.1', String(master.port)] });
    await waitFor('the replica to sync', async () => /master_link_status:up/.test(await replica.client().info('replication')));
    const sentinel = await startSentinel(t, master.port, 'mc');
    const url = `redis-sentinel://127.0.0.1:${sentinel.port}/mc`;
    // --redis-wait 1: an ok means the replica has it too, so the failover cannot lose it.
    const [a, b] = await nodes(t, url, 2, ['--redis-wait', '1']);
    const appA = await AppConnection.open(a!.appPort, t);
    const id = await appA.sendTo('sam', 'before the failover');
    await master.kill();
    const held = httpGet(t, b!.httpPort, `/poll?client=sam&since=0`);
    t.same(pollBody(await held).messages, ['before the failover'], 'the acknowledged message, read from the promoted replica');
    // The old master comes back; Sentinel makes it a replica of the new one, so --redis-wait 1 is met again.
    await master.restart();
    await waitFor('the old master to replicate the new one', async () => /connected_slaves:1/.test(await replica.client().info('replication')), { timeoutMs: 30_000 });
    // Each refused try was queued on the new master (the refusal says so): the first ok is after them.
    const tries: number[] = [];
    const after = await waitFor('a send confirmed by the new master and its replica', async () => {
      const reply = await appA.request({ op: 'send', client: 'sam', data: 'after' });
      // Queued: the ok, and refusals that say Redis queued it (not those of a connection still being re-made).
      if (reply.ok || /^Redis queued it/.test(reply.message ?? '')) tries.push(reply.id ?? 0);
      return reply.ok ? reply : false;
    }, { timeoutMs: 30_000 });
    t.ok(after.id! > id, 'ids go on increasing on the new master');
    t.same(pollBody(await httpGet(t, b!.httpPort, `/poll?client=sam&since=${id}`)), { cursor: after.id, messages: tries.map(() => 'after') }, 'every try, in order, the confirmed one last');
    t.match(a!.stderr(), /the master mc of sentinels 127\.0\.0\.1:\d+/, 'the log names the master and its sentinels');
  });

  t.test('--redis-wait without enough replicas: the send is queued but not confirmed, and the app is told so', async (t) => {
    const redis = await startRedis(t);
    const [a] = await nodes(t, redis.url, 1, ['--redis-wait', '1']);
    const app = await AppConnection.open(a!.appPort, t);
    const reply = await app.request({ op: 'send', client: 'lone', data: 1 });
    expectAppError(t, reply, 'store_unavailable');
    t.match(reply.message, /0 of the 1 replicas \(--redis-wait\).*a retry may deliver it twice/);
    t.same(await app.status('lone'), { connected: false, queued: 1 }, 'it was queued on the master');
    const noRedis = spawnSync(process.execPath, [MAIN, '--redis-wait', '1', '--port', '0', '--app-port', '0'], { encoding: 'utf8' });
    t.equal(noRedis.status, 2);
    t.match(noRedis.stderr, /--redis-wait .* give --redis too/);
  });

  t.test('a takeover with --redis hands over nothing and loses nothing: the queues stay in Redis', async (t) => {
    const redis = await startRedis(t);
    const path = controlSocketPath(t);
    const old = await startServer(t, ['--redis', redis.url, '--threads', '1', '--control-socket', path]);
    const app = await AppConnection.open(old.appPort, t);
    const id = await app.sendTo('tom', 'queued before the takeover');
    const { next, oldExit } = await takeOver(t, old, path, ['--redis', redis.url, '--threads', '1']);
    t.equal(oldExit.code, 0, 'the old process exits 0');
    t.same(pollBody(await httpGet(t, next.httpPort, '/poll?client=tom&since=0')), { cursor: id, messages: ['queued before the takeover'] });
    const appNext = await AppConnection.open(next.appPort, t);
    t.ok((await appNext.sendTo('tom', 'after')) > id, 'ids go on above');
    await expectLogged(t, next, /took over from pid \d+ .*: 0 queues, 0 messages/, 'the log says nothing was handed over');
  });

  t.test('on Redis Cluster: any node, any client slot; a send to many spans slots; partial refusals say which were queued', async (t) => {
    const cluster = await startRedisCluster(t, 3);
    const [a, b] = await nodes(t, cluster.url, 2, ['--max-queue', '2']);
    const appA = await AppConnection.open(a!.appPort, t);
    const appB = await AppConnection.open(b!.appPort, t);
    const clients = Array.from({ length: 30 }, (_, i) => `k${i}`);
    const slots = new Set(clients.map((c) => calculateSlot(`mc:{${c}}`) % 3));
    t.ok(slots.size > 1, 'the clients fall in several parts of the slot space');
    const held = clients.map((c) => httpGet(t, b!.httpPort, `/poll?client=${c}&since=0`));
    await heldOn(appB, clients.length);
    const many = await appA.request({ op: 'send', clients, data: { n: 1 } });
    t.equal(many.ok, true, 'a send to clients of many slots is accepted');
    const bodies = await Promise.all(held.map((h) => h.then(pollBody)));
    t.same(bodies.map((body) => body.cursor), many.ids, 'each held poll on the other node got it, with its id');
    // Their re-polls need no read; the acknowledgements of one turn span slots and must all land.
    const repolls = clients.map((c, i) => httpGet(t, b!.httpPort, `/poll?client=${c}&since=${bodies[i]!.cursor}`));
    await heldOn(appB, clients.length);
    await waitFor('every acknowledgement to trim its stream', async () => {
      const queued = await Promise.all(clients.map((c) => appA.status(c).then((st) => st.queued)));
      return queued.every((q) => q === 0);
    });
    t.pass('acknowledgements batched over several slots all reached Redis');
    // --max-queue 2: fill one client (two unacknowledged), then a send to all: that client's slot refuses, the others queue.
    const k0second = await appA.sendTo('k0', 2);
    await appA.sendTo('k0', 2.5);
    const partial = await appA.request({ op: 'send', clients, data: { n: 3 } });
    expectAppError(t, partial, 'queue_full');
    t.match(partial.message, /client k0 already has 2 .*not all or nothing: "ids" says which/, 'the message says it was not all or nothing');
    const ids = partial.ids as number[];
    t.equal(ids.length, clients.length, '"ids" has one entry per client');
    t.equal(ids[0], 0, 'the full client was not queued');
    t.ok(ids.some((id) => id !== 0), 'clients in other slots were queued');
    for (const [i, c] of clients.entries()) {
      if (ids[i] === 0) continue;
      const body = pollBody(await httpGet(t, a!.httpPort, `/poll?client=${c}&since=${bodies[i]!.cursor}`));
      if (body.cursor !== ids[i]) t.fail(`${c}: expected id ${ids[i]}, got ${JSON.stringify(body)}`);
    }
    // The polls held on B (without a read) were answered too: k0's by its second message, the others by the partial send.
    const repolled = await Promise.all(repolls.map((r) => r.then(pollBody)));
    t.equal(repolled[0]!.cursor, k0second, 'k0: its second message');
    t.same(
      repolled.flatMap((body, i) => (ids[i] === 0 ? [] : [body.cursor])),
      ids.filter((id) => id !== 0),
      'every client the partial send was queued for: that message',
    );
    t.pass('every client reported queued got it');
  });

  t.test('rediss:// (TLS): nodes talk to a TLS-only Redis whose CA they are given', async (t) => {
    const redis = await startRedis(t, { tls: true });
    t.match(redis.url, /^rediss:\/\//);
    // A private CA reaches Node's TLS through NODE_EXTRA_CA_CERTS (docs/OPERATIONS.md).
    const [a, b] = await Promise.all([0, 1].map(() => startServer(t, ['--redis', redis.url, '--threads', '1'], { env: { NODE_EXTRA_CA_CERTS: TLS_CERT } })));
    const app = await AppConnection.open(a!.appPort, t);
    const held = httpGet(t, b!.httpPort, '/poll?client=tina&since=0');
    await heldOn(await AppConnection.open(b!.appPort, t), 1);
    const id = await app.sendTo('tina', 'over TLS');
    t.same(pollBody(await held), { cursor: id, messages: ['over TLS'] });
    const untrusted = spawnSync(process.execPath, [MAIN, '--redis', redis.url, '--port', '0', '--app-port', '0', '--threads', '1', '--host', '127.0.0.1'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    t.not(untrusted.status, 0, 'without the CA the start fails');
    t.match(untrusted.stderr, /cannot use Redis at rediss:\/\/127\.0\.0\.1.*certificate/, 'and says why: the certificate');
  });

  t.test('a bad --redis is refused; an unreachable Redis stops the start with what to do', async (t) => {
    for (const [url, why] of [
      ['http://x', /unknown scheme/],
      ['redis://', /not a URL|no host/],
      ['redis://h:6379/x', /database number/],
      ['redis-sentinel://h:26379', /no master name/],
      ['redis-sentinel://h:99999/m', /bad port/],
    ] as const) {
      const bad = spawnSync(process.execPath, [MAIN, '--redis', url, '--port', '0', '--app-port', '0'], { encoding: 'utf8' });
      t.equal(bad.status, 2, `${url}: exit 2`);
      t.match(bad.stderr, /--redis expects a URL redis:\/\//, `${url}: says what a URL looks like`);
      t.match(bad.stderr, why, `${url}: says what is wrong`);
    }
    const redis = await startRedis(t);
    const port = redis.port;
    await redis.kill();
    const down = spawnSync(process.execPath, [MAIN, '--redis', `redis://127.0.0.1:${port}`, '--port', '0', '--app-port', '0', '--threads', '1', '--host', '127.0.0.1'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    t.not(down.status, 0, 'the start fails');
    t.match(down.stderr, new RegExp(`cannot use Redis at redis://127\\.0\\.0\\.1:${port}`));
  });
}
