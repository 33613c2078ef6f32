// PROTOCOL.md section 1, Semantics, for big answers: the messages queued for
// a client (up to --max-queue of up to --max-message bytes each, 64 MB with
// the defaults) come back in answers of at most about 768 KiB each (the rest
// on the next poll, whose cursor moves past what was delivered). Each answer is
// still larger than the socket buffers, so the server must write it in pieces
// to a reader that is slow.
import t from 'tap';
import { AppConnection } from './helpers/app-client.js';
import { expectPollResponse } from './helpers/expect.js';
import { RawHttpConnection, requestBytes } from './helpers/http-client.js';
import { startServer } from './helpers/server.js';
import { sleep } from './helpers/wait.js';

const server = await startServer(t, ['--threads', '2', '--poll-timeout', '5']);
const port = server.httpPort;
const app = await AppConnection.open(server.appPort, t);

t.test('§1 semantics: a response bigger than the socket buffers arrives whole to a slow reader', async (t) => {
  // 150 messages of 60,000 bytes: answers of about 768 KB that the engine must write in many pieces.
  const chunk = 'z'.repeat(60_000);
  const lines: string[] = [];
  for (let i = 0; i < 150; i++) lines.push(JSON.stringify({ op: 'send', client: 'big-1', data: `${i}:${chunk}` }));
  app.writeRaw(`${lines.join('\n')}\n`);
  for (let i = 0; i < 150; i++) {
    const reply = await app.readReply();
    if (reply.ok !== true) t.fail(`send ${i} refused: ${JSON.stringify(reply)}`);
  }
  const conn = await RawHttpConnection.open(port, t);
  const got: unknown[] = [];
  let since = 0;
  let answers = 0;
  while (got.length < 150 && answers < 150) {
    // A slow reader: not reading for a while is the behaviour under test (the
    // server fills the socket buffers and must finish on EPOLLOUT), not a wait
    // for something; what is checked does not depend on how long it lasts.
    conn.socket.pause();
    conn.write(requestBytes('GET', `/poll?client=big-1&since=${since}`));
    await sleep(answers === 0 ? 300 : 10);
    conn.socket.resume();
    const res = await conn.readResponse({ timeoutMs: 20_000 });
    const body = expectPollResponse(t, res);
    if (answers === 0) t.ok(res.body.length > 500_000, 'the first answer is far larger than a socket buffer');
    t.ok(res.body.length <= 1 << 20, 'no answer is larger than 1 MiB');
    t.ok(body.messages.length > 0, 'every answer carries messages while some wait');
    got.push(...body.messages);
    since = body.cursor;
    answers++;
  }
  t.equal(got.length, 150, 'every message, over several polls');
  t.ok(got.every((m, i) => m === `${i}:${chunk}`), 'every byte in order, none twice');
  t.equal((await conn.get('/health')).status, 200, 'the connection is still in step afterwards');
});
