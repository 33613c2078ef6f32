// PROTOCOL.md section 1, Semantics: message ids are never reused for a client
// across a server restart, so a cursor from before the restart never hides a
// newer message, even right after a burst that used ids faster than the clock.
import t from 'tap';
import { AppConnection } from './helpers/app-client.js';
import { expectPollResponse } from './helpers/expect.js';
import { RawHttpConnection } from './helpers/http-client.js';
import { startServer } from './helpers/server.js';

t.test('§1 ids: a restarted server gives larger ids than before', async (t) => {
  const first = await startServer(t, ['--threads', '1']);
  const app1 = await AppConnection.open(first.appPort, t);
  const before = await app1.sendTo('restart-1', 'before');
  // A burst of 10,000 ids in one request, then restart at once.
  const burstClients = Array.from({ length: 10_000 }, (_, i) => `burst-${i}`);
  const burst = await app1.request({ op: 'send', clients: burstClients, data: 'burst' });
  t.equal(burst.ok, true, 'the burst was accepted');
  const lastBurstId = burst.ids?.at(-1) ?? 0;
  const exit = await first.stop('SIGTERM');
  t.same(exit, { code: 0, signal: null }, 'the first server exits cleanly');

  const second = await startServer(t, ['--threads', '1']);
  const app2 = await AppConnection.open(second.appPort, t);
  const after = await app2.sendTo('restart-1', 'after');
  t.ok(after > before, `the new id ${after} is larger than ${before}`);
  const burstAfter = await app2.sendTo('burst-9999', 'after the burst');
  t.ok(burstAfter > lastBurstId, `after a burst the new id ${burstAfter} is still larger than ${lastBurstId}`);
  t.ok(Number.isSafeInteger(after) && Number.isSafeInteger(burstAfter), 'ids stay below 2^53');

  const conn = await RawHttpConnection.open(second.httpPort, t);
  const body = expectPollResponse(t, await conn.get(`/poll?client=restart-1&since=${before}`));
  t.same(body.messages, ['after'], 'a cursor from before the restart does not hide the new message');
  t.equal(body.cursor, after);
});
