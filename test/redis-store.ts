// The Redis side of --redis (src/cluster/redis-functions.ts, redis-store.ts)
// against a real redis-server: ids, acknowledgement by cursor, --max-queue,
// TTL, maxmemory, notifications, and what a node sees when Redis goes away
// and comes back.
import t, { type Test } from 'tap';
import { RedisStore, StoreError, type StoreEvents } from '../src/cluster/redis-store.js';
import { NOTIFY_DATA_MAX, streamKey } from '../src/cluster/redis-functions.js';
import { parseRedisUrl, type RedisTarget } from '../src/cluster/redis-url.js';
import { redisMissing, startRedis, type RunningRedis } from './helpers/redis.js';
import { waitFor } from './helpers/wait.js';

const missing = redisMissing();
if (missing !== undefined) {
  t.skip(`needs a real Redis: ${missing}`);
} else {
  const targetOf = (redis: RunningRedis): RedisTarget => {
    const target = parseRedisUrl(redis.url);
    if (typeof target === 'string') throw new Error(target);
    return target;
  };

  /** A store with recorded events, closed in teardown. */
  const openStore = async (
    t: Test,
    redis: RunningRedis,
    options: { ttlMs?: number; maxQueue?: number } = {},
  ): Promise<{ store: RedisStore; notes: string[]; events: string[]; carried: Array<string | undefined> }> => {
    const notes: string[] = [];
    const carried: Array<string | undefined> = [];
    const events: string[] = [];
    const sink: StoreEvents = {
      notified: (client, id, data) => {
        notes.push(`${client} ${id}`);
        carried.push(data);
      },
      listening: () => events.push('listening'),
      deaf: () => events.push('deaf'),
      commandsReady: () => events.push('ready'),
      topologyChanged: () => events.push('topology'),
    };
    const store = new RedisStore({ target: targetOf(redis), ttlMs: options.ttlMs ?? 60_000, maxQueue: options.maxQueue ?? 1000 }, sink);
    await store.start();
    t.teardown(() => store.close());
    await waitFor('the subscription', () => events.includes('listening'));
    return { store, notes, events, carried };
  };

  t.test('ids increase per client, even for a burst faster than the clock', async (t) => {
    const redis = await startRedis(t);
    const { store, notes } = await openStore(t, redis, { maxQueue: 10_000 });
    const sends = Array.from({ length: 3000 }, (_, i) => store.send(['burst'], String(i)));
    const ids = (await Promise.all(sends)).map((r) => (r.ok ? r.ids[0]! : -1));
    const out = ids.findIndex((id, i) => i > 0 && !(id > ids[i - 1]!));
    t.equal(out, -1, out < 0 ? 'each id above the one before' : `id ${out} (${ids[out]}) is not above id ${out - 1} (${ids[out - 1]})`);
    t.ok(ids[0]! > Date.now() * 1000 - 60_000_000, 'ids follow the clock in ms * 1000');
    t.ok(ids.every(Number.isSafeInteger), 'every id is a safe integer');
    const read = await store.poll('burst', 0, 0, 5000);
    t.same(read.map((m) => m.id), ids, 'the stream holds them in id order');
    t.same(read.map((m) => m.data), ids.map((_, i) => String(i)), 'with their data byte for byte');
    await waitFor('3000 notifications', () => notes.length === 3000);
    t.equal(notes[2999], `burst ${ids[2999]}`, 'each send is announced as "CLIENT ID"');
    // A new send after the key was emptied still follows the last id.
    await store.poll('burst', ids[2999]!, ids[2999]!, 10);
    const after = await store.send(['burst'], '"next"');
    t.ok(after.ok && after.ids[0]! > ids[2999]!, 'a send after everything was acknowledged gets a higher id');
  });

  t.test('a notification carries data up to 1 KiB, so a holder need not read', async (t) => {
    const redis = await startRedis(t);
    const { store, carried } = await openStore(t, redis);
    const small = JSON.stringify({ text: 'with spaces and "quotes"' });
    const large = JSON.stringify('x'.repeat(NOTIFY_DATA_MAX));
    t.ok((await store.send(['n'], small)).ok);
    t.ok((await store.send(['n'], large)).ok);
    await waitFor('both notifications', () => carried.length === 2);
    t.equal(carried[0], small, 'small data rides along, byte for byte');
    t.equal(carried[1], undefined, 'data over NOTIFY_DATA_MAX bytes does not: the holder reads it');
  });

  t.test('a poll acknowledges up to its cursor and reads after it', async (t) => {
    const redis = await startRedis(t);
    const { store } = await openStore(t, redis);
    const ids: number[] = [];
    for (const data of ['1', '{"a":"é"}', '[3]']) {
      const r = await store.send(['alice'], data);
      if (r.ok) ids.push(r.ids[0]!);
    }
    t.same((await store.poll('alice', 0, 0, 10)).map((m) => m.data), ['1', '{"a":"é"}', '[3]']);
    t.same((await store.poll('alice', ids[0]!, ids[0]!, 10)).map((m) => m.id), ids.slice(1), 'cursor = first id: the rest');
    t.equal(await store.queued('alice'), 2, 'the first is acknowledged: gone from Redis');
    t.same((await store.poll('alice', ids[0]!, ids[1]!, 10)).map((m) => m.id), [ids[2]], 'a stream reads after what it wrote, acknowledging only its cursor');
    t.equal(await store.queued('alice'), 2);
    t.same(await store.poll('alice', ids[2]!, ids[2]!, 10), [], 'all acknowledged: nothing');
    t.equal(await store.queued('alice'), 0);
    t.same(await store.poll('nobody', 0, 0, 10), [], 'a client with no key: nothing, and no key made');
    t.equal(await redis.client().exists(streamKey('nobody')), 0);
  });

  t.test('--max-queue refuses a send, and one to many is all or nothing', async (t) => {
    const redis = await startRedis(t);
    const { store } = await openStore(t, redis, { maxQueue: 2 });
    t.ok((await store.send(['full'], '1')).ok);
    t.ok((await store.send(['full'], '2')).ok);
    t.same(await store.send(['full'], '3'), { ok: false, full: 'full' });
    t.same(await store.send(['empty', 'full'], '4'), { ok: false, full: 'full' }, 'the full recipient is named');
    t.equal(await store.queued('empty'), 0, 'nothing was queued for the other recipient');
    const [first] = await store.poll('full', 0, 0, 10);
    await store.poll('full', first!.id, first!.id, 10);
    t.ok((await store.send(['empty', 'full'], '5')).ok, 'room again after a poll acknowledged one');
  });

  t.test('messages expire after the TTL, and so does the key', async (t) => {
    const redis = await startRedis(t);
    const { store } = await openStore(t, redis, { ttlMs: 300 });
    t.ok((await store.send(['brief'], '1')).ok);
    const ttl = await redis.client().pttl(streamKey('brief'));
    t.ok(ttl > 0 && ttl <= 1300, `the key expires ttl + 1 s after the send (pttl ${ttl})`);
    await waitFor('the message to expire', async () => (await store.queued('brief')) === 0);
    t.same(await store.poll('brief', 0, 0, 10), [], 'an expired message is not delivered');
    await waitFor('the key to expire', async () => (await redis.client().exists(streamKey('brief'))) === 0);
  });

  t.test('a Redis at maxmemory refuses sends and still serves polls', async (t) => {
    const redis = await startRedis(t);
    const { store } = await openStore(t, redis);
    t.ok((await store.send(['m'], '1')).ok);
    await redis.client().config('SET', 'maxmemory', '1');
    const err = await store.send(['m'], '2').catch((e: unknown) => e);
    t.ok(err instanceof StoreError && err.failure === 'out_of_memory', `refused as out of memory (${String(err)})`);
    t.equal((await store.poll('m', 0, 0, 10)).length, 1, 'a poll (which only removes) still runs');
  });

  t.test('a Redis that evicts keys is refused at start', async (t) => {
    const redis = await startRedis(t, { args: ['--maxmemory-policy', 'allkeys-lru'] });
    const store = new RedisStore({ target: targetOf(redis), ttlMs: 1000, maxQueue: 10 }, { notified() {}, listening() {}, deaf() {}, commandsReady() {}, topologyChanged() {} });
    await t.rejects(store.start(), /maxmemory-policy allkeys-lru.*noeviction/);
  });

  t.test('Redis gone: calls fail at once as unreachable; back: the node resubscribes and reloads its functions', async (t) => {
    const redis = await startRedis(t);
    const { store, events, notes } = await openStore(t, redis);
    t.ok((await store.send(['x'], '1')).ok);
    await redis.kill();
    await waitFor('the subscription to break', () => events.includes('deaf'));
    const err = await store.send(['x'], '2').catch((e: unknown) => e);
    t.ok(err instanceof StoreError && (err.failure === 'unreachable' || err.failure === 'answer_lost'), `refused (${String(err)})`);
    await waitFor('the command connection to be down', () => !store.ready);
    const refused = await store.send(['x'], '3').catch((e: unknown) => e);
    t.ok(refused instanceof StoreError && refused.failure === 'unreachable', 'while down: unreachable, never queued for later');
    const listenings = events.filter((e) => e === 'listening').length;
    // Without persistence the restarted Redis has neither the data nor the functions.
    await redis.restart();
    await waitFor('the subscription again', () => events.filter((e) => e === 'listening').length > listenings, { timeoutMs: 15_000 });
    await waitFor('commands again', () => store.ready, { timeoutMs: 15_000 });
    const again = await store.send(['x'], '4');
    t.ok(again.ok, 'sends work again (the functions were loaded again)');
    await waitFor('its notification', () => notes.some((n) => n.startsWith('x ') && again.ok && n.endsWith(String(again.ids[0]))));
  });
}
