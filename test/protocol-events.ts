// PROTOCOL.md "GET /events": the event-stream subscription, end to end against
// the real server: framing, the backlog at open, resume by Last-Event-ID (the
// header and the lastEventId parameter; the largest cursor wins), heartbeat,
// one live subscription per client (stream vs stream, poll vs stream, across
// threads), tokens, JSON errors before the stream, the queue limit for a
// client whose stream is open, and exactly-once in order under load with
// streams dropped and resumed.
import t, { type Test } from 'tap';
import { availableParallelism } from 'node:os';
import { AppConnection } from './helpers/app-client.js';
import { expectEmptyPoll, expectPollResponse } from './helpers/expect.js';
import { RawHttpConnection, requestBytes } from './helpers/http-client.js';
import { startServer } from './helpers/server.js';
import { SseStream } from './helpers/sse-client.js';
import { tokenFor } from './helpers/tokens.js';
import { waitFor } from './helpers/wait.js';

const THREADS = 4;
// Threads to see holding something: two, or one on a 1-CPU machine (past the CPU count only as
// many workers as there are CPUs take connections).
const ACCEPTING = Math.min(THREADS, availableParallelism(), 2);
const server = await startServer(t, ['--threads', String(THREADS), '--poll-timeout', '5', '--heartbeat', '0.3']);
const port = server.httpPort;
const app = await AppConnection.open(server.appPort, t);

async function streamFor(client: string): Promise<void> {
  await waitFor(`an open stream for ${client}`, async () => (await app.status(client)).connected);
}

async function open(target: string, headers: Record<string, string> = {}, tt: Test = t): Promise<SseStream> {
  const s = await SseStream.open(port, target, headers, tt);
  return s;
}

t.test('framing: head, retry hint, one event per message with id and data byte for byte', async (t) => {
  const s = await open('/events?client=frame-1');
  t.equal(s.head?.status, 200);
  t.equal(s.head?.headers['content-type'], 'text/event-stream');
  t.equal(s.head?.headers['cache-control'], 'no-store');
  t.equal(s.head?.headers['access-control-allow-origin'], '*');
  t.equal(s.head?.headers['content-length'], undefined, 'no Content-Length: the body runs until the connection closes');
  await streamFor('frame-1');
  t.equal(s.retry, 2000, 'a retry: hint');
  const data = ['{"a":1}', '12345678901234567890123', '"é ✓ \\u2028 😀"', '[1,{"x":null}]'];
  const ids: number[] = [];
  for (const d of data) {
    // Raw lines, so the data's text reaches the server exactly as written here.
    app.writeRaw(`{"op":"send","client":"frame-1","data":${d}}\n`);
    ids.push((await app.readReply()).id as number);
  }
  const events = await s.take(data.length);
  t.same(events.map((e) => Number(e.id)), ids, 'each event carries its message id, in send order');
  t.same(events.map((e) => e.event), data.map(() => 'message'));
  t.same(events.map((e) => JSON.parse(e.data) as unknown), data.map((d) => JSON.parse(d) as unknown));
  t.equal(events[1]!.data, '12345678901234567890123', 'a big integer arrives as sent');
  s.close();
});

t.test('a stream opens with the backlog after its cursor; since acknowledges', async (t) => {
  const id1 = await app.sendTo('backlog-1', 'one');
  const id2 = await app.sendTo('backlog-1', 'two');
  const s = await open(`/events?client=backlog-1&since=${id1}`);
  const [e] = await s.take(1);
  t.equal(Number(e!.id), id2);
  t.equal(e!.data, '"two"');
  t.equal((await app.status('backlog-1')).queued, 1, 'since=id1 acknowledged the first; the second stays queued for a replay');
  s.close();
});

t.test('resume: Last-Event-ID header, lastEventId parameter, since; the largest wins', async (t) => {
  const ids: number[] = [];
  for (let i = 0; i < 4; i++) ids.push(await app.sendTo('resume-1', i));
  const byHeader = await open('/events?client=resume-1', { 'Last-Event-ID': String(ids[1]) });
  t.same((await byHeader.take(2)).map((e) => Number(e.id)), [ids[2], ids[3]], 'the header');
  byHeader.close();
  const byQuery = await open(`/events?client=resume-1&lastEventId=${ids[2]}`);
  t.same((await byQuery.take(1)).map((e) => Number(e.id)), [ids[3]], 'the lastEventId parameter');
  byQuery.close();
  const id5 = await app.sendTo('resume-1', 4);
  // since=ids[0] is below the header's cursor: the header (larger) wins, and
  // everything up to it was acknowledged by the earlier streams anyway.
  const mixed = await open(`/events?client=resume-1&since=${ids[0]}&lastEventId=${ids[2]}`, { 'Last-Event-ID': String(ids[3]) });
  t.same((await mixed.take(1)).map((e) => Number(e.id)), [id5], 'the largest cursor wins');
  mixed.close();
});

t.test('heartbeat: a silent stream gets comment lines (--heartbeat 0.3)', async (t) => {
  const s = await open('/events?client=beat-1');
  await s.until(() => s.comments >= 2, 'two heartbeats');
  t.ok(s.comments >= 2);
  t.equal(s.events.length, 0, 'a comment is no event');
  s.close();
});

t.test('one live subscription per client', async (t) => {
  await t.test('a newer stream replaces the older, which is told and closed', async (t) => {
    const older = await open('/events?client=one-1');
    await streamFor('one-1');
    const newer = await open('/events?client=one-1');
    const last = await older.next();
    t.equal(last.event, 'replaced');
    t.equal((JSON.parse(last.data) as { error: string }).error, 'replaced');
    await older.waitClosed();
    const id = await app.sendTo('one-1', 'to the newer');
    t.same(await newer.next(), { id: String(id), event: 'message', data: '"to the newer"' });
    newer.close();
  });

  await t.test('a poll replaces a stream; a stream replaces a held poll', async (t) => {
    const s = await open('/events?client=one-2');
    await streamFor('one-2');
    const conn = await RawHttpConnection.open(port, t);
    conn.write(requestBytes('GET', '/poll?client=one-2&since=0'));
    t.equal((await s.next()).event, 'replaced', 'the stream is told');
    await s.waitClosed();
    const s2 = await open('/events?client=one-2');
    expectEmptyPoll(t, await conn.readResponse(), 0);
    const id = await app.sendTo('one-2', 'x');
    t.equal(Number((await s2.next()).id), id, 'the stream that replaced the poll gets the message');
    s2.close();
  });

  await t.test('across threads: eight or more streams in turn, each replacing the last', async (t) => {
    const threadsSeen = new Set<number>();
    let previous: SseStream | undefined;
    // Connections land on the workers at random (past the CPU count, on as many workers as there
    // are CPUs): go on until two threads have held one, 8 streams at least and 64 at most.
    for (let i = 0; i < 64 && (i < 8 || threadsSeen.size < ACCEPTING); i++) {
      const s = await open('/events?client=one-3');
      if (previous !== undefined) {
        t.equal((await previous.next()).event, 'replaced', `stream ${i - 1} is told`);
        await previous.waitClosed();
      }
      const threads = await waitFor('the stream in the per-thread stats', async () => {
        const stats = await app.stats();
        const held = stats.threads.map((th) => th.held_polls);
        return held.reduce((a, b) => a + b, 0) === 1 ? held : undefined;
      });
      threadsSeen.add(threads.findIndex((n) => n === 1));
      previous = s;
    }
    t.ok(threadsSeen.size >= ACCEPTING, `the streams were held by ${threadsSeen.size} of ${THREADS} threads`);
    const id = await app.sendTo('one-3', 'last');
    t.equal(Number((await previous!.next()).id), id);
    previous!.close();
  });
});

t.test('errors before the stream are JSON, as for /poll', async (t) => {
  const cases: Array<[string, Record<string, string>, number, string]> = [
    ['/events', {}, 400, 'bad_request'],
    ['/events?client=', {}, 400, 'bad_request'],
    ['/events?client=a.b', {}, 400, 'bad_request'],
    ['/events?client=e&since=01', {}, 400, 'bad_request'],
    ['/events?client=e&lastEventId=-1', {}, 400, 'bad_request'],
    ['/events?client=e', { 'Last-Event-ID': 'abc' }, 400, 'bad_request'],
    ['/events?client=e&client=f', {}, 400, 'bad_request'],
    ['/events?client=%zz', {}, 400, 'bad_request'],
  ];
  for (const [target, headers, status, code] of cases) {
    const conn = await RawHttpConnection.open(port, t);
    const res = await conn.get(target, headers);
    t.equal(res.status, status, target);
    t.equal(res.headers['access-control-allow-origin'], '*');
    const body = JSON.parse(res.body.toString()) as { error: string; message: string };
    t.equal(body.error, code, `${target}: ${body.message}`);
    conn.destroy();
  }
  const conn = await RawHttpConnection.open(port, t);
  const post = await conn.request('POST', '/events?client=e', { 'Content-Length': '0' });
  t.equal(post.status, 405);
  t.equal(post.headers.allow, 'GET, OPTIONS');
  const pre = await conn.request('OPTIONS', '/events?client=e', { 'Access-Control-Request-Headers': 'last-event-id' });
  t.equal(pre.status, 204);
  t.equal(pre.headers['access-control-allow-headers'], 'last-event-id');
});

t.test('an open stream is never refused queue_full for what it received; a closed one is', async (t) => {
  const small = await startServer(t, ['--max-queue', '5']);
  const smallApp = await AppConnection.open(small.appPort, t);
  const s = await SseStream.open(small.httpPort, '/events?client=q-1', {}, t);
  await waitFor('the stream', async () => (await smallApp.status('q-1')).connected);
  const ids: number[] = [];
  for (let i = 0; i < 20; i++) ids.push(await smallApp.sendTo('q-1', i));
  t.same((await s.take(20)).map((e) => Number(e.id)), ids, '20 messages through a queue of 5');
  t.equal((await smallApp.status('q-1')).queued, 20, 'all kept for a replay until their TTL');
  s.close();
  await waitFor('the stream gone', async () => !(await smallApp.status('q-1')).connected);
  const refused = await smallApp.request({ op: 'send', client: 'q-1', data: 'more' });
  t.equal(refused.error, 'queue_full', 'with the stream closed, the replay counts');
  const resumed = await SseStream.open(small.httpPort, `/events?client=q-1&lastEventId=${ids[19]}`, {}, t);
  await waitFor('the resumed stream', async () => (await smallApp.status('q-1')).connected);
  t.equal((await smallApp.status('q-1')).queued, 0, 'the reconnect acknowledged them');
  t.ok((await smallApp.request({ op: 'send', client: 'q-1', data: 'more' })).ok);
  t.equal((await resumed.next()).data, '"more"');
  resumed.close();
});

t.test('tokens as for /poll', async (t) => {
  const secret = 's3cret';
  const guarded = await startServer(t, ['--secret', secret]);
  for (const [target, status] of [
    ['/events?client=tok-1', 403],
    ['/events?client=tok-1&token=bad', 403],
    [`/events?client=tok-1&token=${tokenFor(secret, 'tok-2')}`, 403],
    [`/events?client=tok-1&token=${tokenFor(secret, 'tok-1', Math.floor(Date.now() / 1000) - 10)}`, 403],
  ] as const) {
    const s = await SseStream.open(guarded.httpPort, target, {}, t);
    // The error keeps the connection alive: its body is complete at its closing brace.
    await s.until(() => s.body.endsWith('}'), 'the error body');
    t.equal(s.head?.status, status, target);
    t.match(s.body, /"error":"forbidden"/);
    s.close();
  }
  const ok = await SseStream.open(guarded.httpPort, `/events?client=tok-1&token=${tokenFor(secret, 'tok-1')}`, {}, t);
  t.equal(ok.head?.status, 200, 'a valid token opens the stream');
  ok.close();
});

t.test('a slow reader: past --max-stream-buffer the stream closes, and the resume loses nothing', async (t) => {
  const slow = await startServer(t, ['--max-stream-buffer', '65536']);
  const slowApp = await AppConnection.open(slow.appPort, t);
  const s = await SseStream.open(slow.httpPort, '/events?client=slow-1', {}, t);
  await waitFor('the stream', async () => (await slowApp.status('slow-1')).connected);
  s.socket.pause();
  // 60 KiB messages until the kernel's buffers and then the 64 KiB limit are full (bounded: 400 = 24 MiB).
  const payload = 'x'.repeat(60 * 1024);
  const ids: number[] = [];
  for (let i = 0; i < 400 && (await slowApp.status('slow-1')).connected; i++) ids.push(await slowApp.sendTo('slow-1', `${i}:${payload}`));
  await waitFor('the stream closed for its unsent bytes', async () => !(await slowApp.status('slow-1')).connected);
  t.ok(ids.length < 400, `closed after ${ids.length} messages`);
  s.socket.resume();
  await s.waitClosed();
  const got = s.events.map((e) => Number(e.id));
  t.same(got, ids.slice(0, got.length), 'what arrived is a prefix, in order');
  const last = got.length === 0 ? 0 : got[got.length - 1]!;
  const resumed = await SseStream.open(slow.httpPort, '/events?client=slow-1', { 'Last-Event-ID': String(last) }, t);
  const rest = await resumed.take(ids.length - got.length);
  t.same(rest.map((e) => Number(e.id)), ids.slice(got.length), 'the resume brings exactly the rest');
  t.ok(rest.every((e, i) => e.data.startsWith(`"${got.length + i}:`)));
  resumed.close();
});

t.test('exactly once, in order, under load, with streams dropped and resumed by Last-Event-ID', async (t) => {
  const CLIENTS = 40;
  const MESSAGES = 150;
  const clients = Array.from({ length: CLIENTS }, (_, i) => `load-${i}`);
  const got = new Map<string, number[]>(clients.map((c) => [c, []]));
  const streams = new Map<string, SseStream>();
  const openFor = async (client: string): Promise<void> => {
    const ids = got.get(client)!;
    const headers: Record<string, string> = ids.length === 0 ? {} : { 'Last-Event-ID': String(ids[ids.length - 1]) };
    const s = await open(`/events?client=${client}`, headers, t);
    streams.set(client, s);
  };
  const collect = (client: string): void => {
    const s = streams.get(client)!;
    for (const e of s.events.splice(0)) if (e.event === 'message') got.get(client)!.push(Number(e.id));
  };
  await Promise.all(clients.map(openFor));
  await waitFor('every stream open', async () => (await app.stats()).held_polls >= CLIENTS);
  const sent = new Map<string, number[]>(clients.map((c) => [c, []]));
  for (let m = 0; m < MESSAGES; m++) {
    const reply = await app.request({ op: 'send', clients, data: { m } });
    t.equal(reply.ok, true);
    (reply.ids as number[]).forEach((id, i) => sent.get(clients[i]!)!.push(id));
    if (m % 30 === 15) {
      // Drop a quarter of the streams mid-flight and resume them from what they saw.
      for (const c of clients.filter((_, i) => i % 4 === (m / 30) % 4)) {
        const s = streams.get(c)!;
        s.close();
        await s.waitClosed();
        collect(c);
        await openFor(c);
      }
    }
  }
  for (const c of clients) {
    const s = streams.get(c)!;
    await s.until(() => got.get(c)!.length + s.events.length >= MESSAGES, `${c}'s messages`);
    collect(c);
    s.close();
  }
  let ok = 0;
  for (const c of clients) if (JSON.stringify(got.get(c)) === JSON.stringify(sent.get(c))) ok++;
  t.equal(ok, CLIENTS, `every client got every message exactly once, in order (${CLIENTS} x ${MESSAGES})`);
});

t.test('a stream that ended without a close keeps its messages for the next', async (t) => {
  // The poll answer shape is untouched by streams.
  const id = await app.sendTo('mixed-1', 'm');
  const conn = await RawHttpConnection.open(port, t);
  const body = expectPollResponse(t, await conn.get('/poll?client=mixed-1&since=0'));
  t.equal(body.cursor, id);
  const s = await open('/events?client=mixed-1&since=0');
  t.equal(Number((await s.next()).id), id, 'a stream after a poll with the same cursor replays it');
  s.close();
});
