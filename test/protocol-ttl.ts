// PROTOCOL.md section 1, Semantics: the TTL. With --ttl 1 a message nobody
// acknowledges is forgotten after 1 s (noticed up to 1 s late) and is then
// never delivered, not even to a poll that re-asks with an old cursor; it is
// never forgotten before. Ids stay increasing across a queue's expiry.
import t from 'tap';
import { AppConnection } from './helpers/app-client.js';
import { expectPollResponse } from './helpers/expect.js';
import { RawHttpConnection, requestBytes } from './helpers/http-client.js';
import { startServer } from './helpers/server.js';
import { sleep, waitFor } from './helpers/wait.js';

const TTL_MS = 1000;
/** TTL plus the 1 s the protocol allows for noticing, plus slack: by then the message must be gone. */
const GONE_AFTER_MS = TTL_MS + 1000 + 500;
const server = await startServer(t, ['--threads', '2', '--ttl', '1', '--poll-timeout', '5']);
const app = await AppConnection.open(server.appPort, t);

async function heldFor(client: string): Promise<void> {
  await waitFor(`a held poll for ${client}`, async () => (await app.status(client)).connected);
}

t.test('§1 TTL: an unacknowledged message expires and is never delivered', async (t) => {
  // Three clients share the one wait for expiry.
  const sentAt = Date.now();
  const neverPolled = await app.sendTo('ttl-never', 'expires unseen');
  const seenOnce = await app.sendTo('ttl-seen', 'seen once, never acknowledged');
  const firstId = await app.sendTo('ttl-ids', 'first life');
  t.same(await app.status('ttl-never'), { connected: false, queued: 1 }, 'queued right after the send');

  const early = await RawHttpConnection.open(server.httpPort, t);
  const seen = expectPollResponse(t, await early.get('/poll?client=ttl-seen&since=0'));
  t.same(seen.messages, ['seen once, never acknowledged'], 'delivered while within the TTL');
  t.equal(seen.cursor, seenOnce);

  await waitFor('status queued 0 after the TTL', async () => (await app.status('ttl-never')).queued === 0, { timeoutMs: 5000 });
  const noticed = Date.now() - sentAt;
  t.ok(noticed >= TTL_MS - 50, `not forgotten before the TTL (${noticed} ms)`);
  t.ok(noticed <= GONE_AFTER_MS, `forgotten at most 1 s after the TTL (${noticed} ms)`);
  const left = GONE_AFTER_MS - (Date.now() - sentAt);
  if (left > 0) await sleep(left);

  await t.test('a poll after the TTL does not get it', async (t) => {
    const conn = await RawHttpConnection.open(server.httpPort, t);
    conn.write(requestBytes('GET', '/poll?client=ttl-never&since=0'));
    await heldFor('ttl-never');
    const fresh = await app.sendTo('ttl-never', 'fresh');
    const body = expectPollResponse(t, await conn.readResponse());
    t.same(body.messages, ['fresh'], 'only the new message; the expired one is gone');
    t.equal(body.cursor, fresh);
    t.ok(fresh > neverPolled, 'the new id is larger');
  });

  await t.test('a re-poll with the old cursor does not get it again', async (t) => {
    t.equal((await app.status('ttl-seen')).queued, 0, 'no longer queued');
    const conn = await RawHttpConnection.open(server.httpPort, t);
    conn.write(requestBytes('GET', '/poll?client=ttl-seen&since=0'));
    await heldFor('ttl-seen');
    const fresh = await app.sendTo('ttl-seen', 'fresh');
    const body = expectPollResponse(t, await conn.readResponse());
    t.same(body.messages, ['fresh']);
    t.equal(body.cursor, fresh);
  });

  await t.test("ids keep increasing after a client's queue expired", async (t) => {
    t.equal((await app.status('ttl-ids')).queued, 0);
    const secondId = await app.sendTo('ttl-ids', 'second life');
    t.ok(secondId > firstId, `${secondId} > ${firstId}`);
  });

  await t.test('stats counts the expired messages', async (t) => {
    const stats = await app.stats();
    t.ok(stats.expired >= 3, `expired >= 3 (${stats.expired})`);
  });
});

t.test('§1 TTL: a message is kept until its TTL when nobody polls', async (t) => {
  const id = await app.sendTo('ttl-kept', 'still here');
  await sleep(TTL_MS / 2);
  t.equal((await app.status('ttl-kept')).queued, 1, 'queued half-way through the TTL');
  const conn = await RawHttpConnection.open(server.httpPort, t);
  const body = expectPollResponse(t, await conn.get('/poll?client=ttl-kept'));
  t.same(body.messages, ['still here']);
  t.equal(body.cursor, id);
});
