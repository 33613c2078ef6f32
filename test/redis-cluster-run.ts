// Issue 13's run: 3 nodes on one real Redis; 2,000 clients, each polling a
// random node at every request; 100,000 messages sent to random nodes. One
// node is killed with SIGKILL mid-run (its clients move to the others with
// their cursors) and Redis is restarted mid-run (appendonly). At the end:
// every acknowledged message delivered exactly once, in id order; none that
// was refused with "nothing was queued" delivered; nothing delivered twice.
import t from 'tap';
import { Agent, request } from 'node:http';
import { AppConnection, type AppReply } from './helpers/app-client.js';
import { redisMissing, startRedis } from './helpers/redis.js';
import { startServer, type RunningServer } from './helpers/server.js';
import { sleep, waitFor } from './helpers/wait.js';

const CLIENTS = 2000;
const MESSAGES = 100_000;
const NODES = 3;
/** Sends in flight at once (each sender sends one at a time). */
const SENDERS = 200;
const KILL_NODE_AT = 40_000;
const RESTART_REDIS_AT = 70_000;

const missing = redisMissing();
if (missing !== undefined) {
  t.skip(`needs a real Redis: ${missing}`);
} else {
  t.setTimeout(600_000);
  t.test('3 nodes, 2,000 clients, 100,000 messages, a node killed and Redis restarted: 0 lost, 0 duplicated, 0 out of order', async (t) => {
    const redis = await startRedis(t, { appendfsync: 'everysec' });
    const servers: RunningServer[] = await Promise.all(
      Array.from({ length: NODES }, () => startServer(t, ['--redis', redis.url, '--threads', '1', '--ttl', '900', '--max-queue', '100000'])),
    );
    const alive = servers.map(() => true);
    const pickNode = (): number => {
      const up = alive.flatMap((a, i) => (a ? [i] : []));
      return up[Math.floor(Math.random() * up.length)]!;
    };

    // ---- what happened to each message, by sequence number ----
    /** The id of each acknowledged message (0: not acknowledged). */
    const ackedId = new Float64Array(MESSAGES);
    /** 1: refused with "nothing was queued"; 2: fate unknown (the node died or Redis's answer was lost). */
    const refusedKind = new Uint8Array(MESSAGES);
    const received = new Uint8Array(MESSAGES);
    const recipient = new Int32Array(MESSAGES);
    let duplicates = 0;
    let refused = 0;
    let unknown = 0;
    let refusedDelivered = 0;
    let outOfOrder = 0;
    let pollsAfterKill = 0;
    const firstProblems: string[] = [];
    const note = (problem: string): void => {
      if (firstProblems.length < 10) firstProblems.push(problem);
    };

    // ---- pollers: each client polls a random live node at every request ----
    const agents = servers.map(() => new Agent({ keepAlive: true, maxSockets: Infinity }));
    t.teardown(() => agents.forEach((a) => a.destroy()));
    let stopping = false;
    let killedAt = -1;
    const lastId = new Float64Array(CLIENTS);
    const pollOnce = (node: number, client: number, since: number): Promise<{ cursor: number; messages: Array<{ s: number }> }> =>
      new Promise((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port: servers[node]!.httpPort, path: `/poll?client=c${client}&since=${since}`, agent: agents[node] },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (text += chunk));
            res.on('end', () => {
              if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}: ${text}`));
              try {
                resolve(JSON.parse(text) as { cursor: number; messages: Array<{ s: number }> });
              } catch (err) {
                reject(err as Error);
              }
            });
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end();
      });
    const poller = async (client: number): Promise<void> => {
      let cursor = 0;
      while (!stopping) {
        const node = pickNode();
        let body;
        try {
          body = await pollOnce(node, client, cursor);
        } catch {
          // The node died under the request (or its keep-alive connection did): the next request goes elsewhere, same cursor.
          continue;
        }
        if (killedAt >= 0 && alive[node]) pollsAfterKill++;
        for (const { s } of body.messages) {
          if (recipient[s] !== client) note(`client ${client} got message ${s} sent to ${recipient[s]}`);
          if (received[s]++ !== 0) {
            duplicates++;
            note(`message ${s} delivered twice`);
          }
          if (refusedKind[s] === 1) {
            refusedDelivered++;
            note(`message ${s} was refused as "nothing was queued" but delivered`);
          }
          const id = ackedId[s]!;
          if (id !== 0) {
            if (id <= lastId[client]!) {
              outOfOrder++;
              note(`client ${client}: message ${s} (id ${id}) after id ${lastId[client]}`);
            }
            lastId[client] = id;
          }
        }
        if (body.messages.length > 0 && body.cursor < cursor) note(`client ${client}: cursor went back from ${cursor} to ${body.cursor}`);
        cursor = body.cursor;
      }
    };
    const pollers = Array.from({ length: CLIENTS }, (_, i) => poller(i));

    // ---- senders: every message to a random client through a random live node ----
    const apps = await Promise.all(servers.map((s) => AppConnection.open(s.appPort, t)));
    let next = 0;
    let events: Promise<void> = Promise.resolve();
    const sender = async (): Promise<void> => {
      while (next < MESSAGES) {
        const s = next++;
        if (s === KILL_NODE_AT) events = events.then(killNode);
        if (s === RESTART_REDIS_AT) events = events.then(restartRedis);
        const client = Math.floor(Math.random() * CLIENTS);
        recipient[s] = client;
        const node = pickNode();
        let reply: AppReply;
        try {
          reply = await apps[node]!.request({ op: 'send', client: `c${client}`, data: { s } }, 30_000);
        } catch {
          refusedKind[s] = 2;
          unknown++;
          continue;
        }
        if (reply.ok) {
          ackedId[s] = reply.id!;
          continue;
        }
        if (reply.error !== 'store_unavailable') note(`message ${s}: unexpected refusal ${JSON.stringify(reply)}`);
        const maybeQueued = /may have been queued/.test(reply.message ?? '');
        refusedKind[s] = maybeQueued ? 2 : 1;
        if (maybeQueued) unknown++;
        else refused++;
        // Redis is away: do not burn the run's messages faster than it comes back.
        await sleep(50);
      }
    };
    const killNode = async (): Promise<void> => {
      const victim = NODES - 1;
      alive[victim] = false;
      killedAt = Date.now();
      await servers[victim]!.kill();
      t.comment(`node ${victim} killed with SIGKILL at message ${KILL_NODE_AT}`);
    };
    const restartRedis = async (): Promise<void> => {
      const before = refused + unknown;
      await redis.stop();
      // Wait for a send to be refused while it is away, so the refusal path is exercised.
      await waitFor('a send refused while Redis is down', () => refused + unknown > before, { timeoutMs: 30_000 });
      await redis.restart();
      t.comment(`Redis stopped and restarted at message ${RESTART_REDIS_AT}`);
    };
    const started = Date.now();
    await Promise.all(Array.from({ length: SENDERS }, sender));
    await events;
    const sentSeconds = (Date.now() - started) / 1000;

    let acked = 0;
    for (let s = 0; s < MESSAGES; s++) if (ackedId[s] !== 0) acked++;
    const lost = (): number => {
      let n = 0;
      for (let s = 0; s < MESSAGES; s++) if (ackedId[s] !== 0 && received[s] === 0) n++;
      return n;
    };
    await waitFor('every acknowledged message to be delivered', () => lost() === 0, { timeoutMs: 120_000, intervalMs: 250 }).catch(() => undefined);
    stopping = true;
    t.comment(
      `${MESSAGES} messages in ${sentSeconds.toFixed(1)} s: ${acked} acknowledged, ${refused} refused (store_unavailable), ${unknown} of unknown fate; ` +
        `polls on the surviving nodes after the kill: ${pollsAfterKill}`,
    );
    if (firstProblems.length > 0) t.comment(`first problems:\n${firstProblems.join('\n')}`);
    t.equal(lost(), 0, 'no acknowledged message lost');
    t.equal(duplicates, 0, 'nothing delivered twice');
    t.equal(outOfOrder, 0, 'each client got its messages in id order');
    t.equal(refusedDelivered, 0, 'no message refused with "nothing was queued" was delivered');
    t.ok(refused + unknown > 0, 'sends were refused while Redis was down');
    t.ok(acked > MESSAGES * 0.8, `most messages were acknowledged (${acked})`);
    t.ok(pollsAfterKill > CLIENTS, 'clients went on polling the surviving nodes after the kill');
    t.equal(firstProblems.length, 0, 'no other problem seen');
    // Held polls end when the servers are killed in teardown; the pollers' errors are ignored once stopping.
    for (const a of agents) a.destroy();
    void Promise.allSettled(pollers);
  });
}
