// PROTOCOL.md section 2, Groups, end to end on a real server (2 worker
// threads, real HTTP polls): a publish reaches a held member at once and a
// member between polls on its next poll, under one id, in order with its
// direct messages, acknowledged by its cursor, exactly once.
import t from 'tap';
import { AppConnection } from './helpers/app-client.js';
import { expectPollResponse } from './helpers/expect.js';
import { RawHttpConnection, requestBytes } from './helpers/http-client.js';
import { startServer } from './helpers/server.js';
import { SseStream } from './helpers/sse-client.js';
import { waitFor } from './helpers/wait.js';

const server = await startServer(t, ['--threads', '2', '--poll-timeout', '5']);
const port = server.httpPort;
const app = await AppConnection.open(server.appPort, t);

async function heldFor(client: string): Promise<void> {
  await waitFor(`a held poll for ${client}`, async () => (await app.status(client)).connected);
}

t.test('a member on an event stream: backlog merged by id, each publish at once, resume by Last-Event-ID', async (t) => {
  t.match(await app.request({ op: 'join', clients: ['gs-1'], group: 'e2e.stream' }), { ok: true, members: 1 });
  const p1 = (await app.request({ op: 'publish', group: 'e2e.stream', data: 'p1' })).id as number;
  const d1 = await app.sendTo('gs-1', 'd1');
  const s = await SseStream.open(port, '/events?client=gs-1', {}, t);
  t.same((await s.take(2)).map((e) => [Number(e.id), e.data]), [[p1, '"p1"'], [d1, '"d1"']], 'the backlog, publish and direct message, in id order');
  await heldFor('gs-1');
  const p2 = await app.request({ op: 'publish', group: 'e2e.stream', data: { n: 2 } });
  t.match(p2, { ok: true, queued: 1, full: 0 });
  const d2 = await app.sendTo('gs-1', 'd2');
  t.same((await s.take(2)).map((e) => [Number(e.id), e.data]), [[p2.id, '{"n":2}'], [d2, '"d2"']], 'then each message at once, in order');
  s.close();
  // Written is not acknowledged: a reconnect from the middle gets exactly the rest.
  const again = await SseStream.open(port, '/events?client=gs-1', { 'Last-Event-ID': String(d1) }, t);
  t.same((await again.take(2)).map((e) => Number(e.id)), [p2.id, d2], 'resumed after the last event it had, nothing twice');
  again.close();
  t.match(await app.request({ op: 'leave', client: 'gs-1', group: 'e2e.stream' }), { ok: true, members: 0 });
});

t.test('one publish: at once to a held member, on the next poll to one between polls', async (t) => {
  t.match(await app.request({ op: 'join', clients: ['gh-held', 'gh-away'], group: 'e2e.room' }), { ok: true, members: 2 });
  const held = await RawHttpConnection.open(port, t);
  held.write(requestBytes('GET', '/poll?client=gh-held&since=0'));
  await heldFor('gh-held');

  const published = await app.request({ op: 'publish', group: 'e2e.room', data: { n: 1 } });
  t.match(published, { ok: true, queued: 2, full: 0 });
  const id = published.id as number;
  const first = expectPollResponse(t, await held.readResponse());
  t.same(first, { cursor: id, messages: [{ n: 1 }] }, 'the held member got it at once');

  const direct = await app.sendTo('gh-away', 'direct');
  const away = await RawHttpConnection.open(port, t);
  const body = expectPollResponse(t, await away.get('/poll?client=gh-away&since=0'));
  t.same(body, { cursor: direct, messages: [{ n: 1 }, 'direct'] }, 'the member between polls gets it, in id order with its direct message');
  const again = expectPollResponse(t, await away.get('/poll?client=gh-away&since=0'));
  t.same(again, body, 'a lost answer is recovered with the old cursor');

  // Acknowledged: the next poll with the cursor is held, and the next publish answers it once.
  away.write(requestBytes('GET', `/poll?client=gh-away&since=${direct}`));
  await heldFor('gh-away');
  const second = await app.request({ op: 'publish', group: 'e2e.room', data: 2 });
  t.same(expectPollResponse(t, await away.readResponse()), { cursor: second.id, messages: [2] });
  t.match(await app.request({ op: 'status', client: 'gh-away' }), { ok: true, queued: 1, groups: ['e2e.room'] });
  t.match(await app.request({ op: 'leave', clients: ['gh-held', 'gh-away'], group: 'e2e.room' }), { ok: true, members: 0 });
  t.match(await app.request({ op: 'publish', group: 'e2e.room', data: 3 }), { ok: false, error: 'unknown_group' });
});

t.test('--max-queue: a member on an open stream is never full; once its stream is gone it is', async (t) => {
  const small = await startServer(t, ['--threads', '2', '--max-queue', '2']);
  const smallApp = await AppConnection.open(small.appPort, t);
  t.match(await smallApp.request({ op: 'join', clients: ['gq-stream', 'gq-away'], group: 'e2e.full' }), { ok: true, members: 2 });
  const s = await SseStream.open(small.httpPort, '/events?client=gq-stream', {}, t);
  await waitFor('the stream held', async () => (await smallApp.status('gq-stream')).connected);
  const ids: number[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await smallApp.request({ op: 'publish', group: 'e2e.full', data: i });
    // The member between polls fills at 2; the streaming one takes every publish.
    t.match(r, { ok: true, queued: i < 2 ? 2 : 1, full: i < 2 ? 0 : 1 }, `publish ${i}`);
    ids.push(r.id as number);
  }
  t.same((await s.take(4)).map((e) => Number(e.id)), ids, 'the stream got all four, in order');
  t.match(await smallApp.request({ op: 'send', client: 'gq-stream', data: 'direct' }), { ok: true }, 'a direct send is not refused either');
  s.close();
  await waitFor('the stream gone', async () => !(await smallApp.status('gq-stream')).connected);
  t.match(await smallApp.request({ op: 'publish', group: 'e2e.full', data: 'after' }), { ok: true, queued: 0, full: 2 }, 'without its stream the member counts its kept messages again');
});
