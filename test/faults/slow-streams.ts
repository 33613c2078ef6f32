// Fault probe: event streams (GET /events) whose readers stop reading, beside
// steady streams that read.
//
// PROTOCOL.md section 1b: a stream's unsent bytes are kept up to
// --max-stream-buffer; past it, or after four heartbeats with bytes waiting
// and none taken, the stream is closed, and the client's reconnect with
// Last-Event-ID gets what it had not read. Here 16 streams stop reading and
// are sent 120 messages of 60 KB each (115 MB in all, far more than the
// kernel's socket buffers take): asserted, the server's RSS grows by far less
// than what it was sent (it keeps at most --max-stream-buffer per stream), the
// server closes every one of them, and each one's resume from the last id it
// read brings exactly the rest, in order. Twenty steady streams, sent a
// message each per round meanwhile, get every message exactly once.
import t from 'tap';
import { AppConnection } from '../helpers/app-client.js';
import { mb, MB, median, rssBytes } from '../helpers/process-memory.js';
import { PLAIN_NODE, startServer } from '../helpers/server.js';
import { SseStream } from '../helpers/sse-client.js';
import { waitFor } from '../helpers/wait.js';

const SLOW = 16;
const STEADY = 20;
const MESSAGES = 120;
const MESSAGE_CHARS = 60_000;
const LIMIT = 256 * 1024;

const server = await startServer(t, ['--threads', '2', '--max-stream-buffer', String(LIMIT), '--heartbeat', '0.5'], PLAIN_NODE);
const app = await AppConnection.open(server.appPort, t);

t.test('streams that stop reading are closed with bounded memory, and resume losing nothing', async (t) => {
  const slowIds = Array.from({ length: SLOW }, (_, i) => `slow-${i}`);
  const steadyIds = Array.from({ length: STEADY }, (_, i) => `steady-${i}`);
  const slow = await Promise.all(slowIds.map((c) => SseStream.open(server.httpPort, `/events?client=${c}`, {}, t)));
  const steady = await Promise.all(steadyIds.map((c) => SseStream.open(server.httpPort, `/events?client=${c}`, {}, t)));
  await waitFor('every stream open', async () => (await app.stats()).held_polls === SLOW + STEADY);
  for (const s of slow) s.socket.pause();
  const before = median([rssBytes(server.pid), rssBytes(server.pid), rssBytes(server.pid)]);

  const payload = 'x'.repeat(MESSAGE_CHARS);
  const sent = new Map<string, number[]>(slowIds.map((c) => [c, []]));
  let peak = before;
  for (let m = 0; m < MESSAGES; m++) {
    for (const c of slowIds) {
      const reply = await app.request({ op: 'send', client: c, data: `${m}:${payload}` });
      t.equal(reply.ok, true, `send ${m} to ${c}`, { diagnostic: false });
      if (reply.ok) sent.get(c)!.push(reply.id as number);
    }
    await app.request({ op: 'send', clients: steadyIds, data: { m } });
    if (m % 10 === 0) peak = Math.max(peak, rssBytes(server.pid));
  }
  peak = Math.max(peak, rssBytes(server.pid));
  const total = SLOW * MESSAGES * MESSAGE_CHARS;
  t.comment(`RSS ${mb(before)} before, peak ${mb(peak)}, after sending ${mb(total)} to streams that do not read`);
  // The queues hold every message until its TTL (that is the replay), once: the streams add at most
  // their limit each, not a copy of what they were sent.
  t.ok(peak - before < total + SLOW * LIMIT + 64 * MB, `RSS growth ${mb(peak - before)} is the queued messages plus at most the limits`);

  await waitFor('every slow stream closed by the server', async () => {
    for (const c of slowIds) if ((await app.status(c)).connected) return false;
    return true;
  }, { timeoutMs: 60_000 });
  t.pass('every slow stream was closed');

  for (const [i, s] of slow.entries()) {
    s.socket.resume();
    await s.waitClosed();
    const ids = sent.get(slowIds[i]!)!;
    const got = s.events.map((e) => Number(e.id));
    t.same(got, ids.slice(0, got.length), `${slowIds[i]}: what arrived (${got.length}) is a prefix, in order`, { diagnostic: got.length < 3 });
    const last = got.length === 0 ? 0 : got[got.length - 1]!;
    const resumed = await SseStream.open(server.httpPort, `/events?client=${slowIds[i]}`, { 'Last-Event-ID': String(last) }, t);
    const rest = await resumed.take(ids.length - got.length, 60_000);
    t.same(rest.map((e) => Number(e.id)), ids.slice(got.length), `${slowIds[i]}: the resume brings exactly the rest`, { diagnostic: false });
    resumed.close();
  }

  for (const [i, s] of steady.entries()) {
    await s.until(() => s.events.length >= MESSAGES, `${steadyIds[i]}'s messages`, 60_000);
    t.same(s.events.map((e) => (JSON.parse(e.data) as { m: number }).m), Array.from({ length: MESSAGES }, (_, k) => k), `${steadyIds[i]}: every message once, in order`, { diagnostic: false });
    s.close();
  }
});
