// Issue 13's run: 3 nodes on one real Redis; 2,000 clients, each polling a
// random node at every request; 100,000 messages sent to random nodes. One
// node is killed with SIGKILL mid-run (its clients move to the others with
// their cursors) and Redis is restarted mid-run (appendonly). At the end:
// every acknowledged message delivered exactly once, in id order; none that
// was refused with "nothing was queued" delivered; nothing delivered twice.
// Then the same checks on a Redis Cluster whose master fails over mid-run.
import t, { type Test } from 'tap';
import { Agent, request } from 'node:http';
import { AppConnection, type AppReply } from './helpers/app-client.js';
import { redisMissing, startRedis, startRedisCluster } from './helpers/redis.js';
import { startServer, type RunningServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';

const NODES = 3;
/** Sends in flight at once (each sender sends one at a time). */
const SENDERS = 200;

/** What one run saw. */
interface RunOutcome {
  acked: number;
  refused: number;
  unknown: number;
  lost: number;
  duplicates: number;
  outOfOrder: number;
  refusedDelivered: number;
  /** Polls answered by the nodes still up after the first event. */
  pollsAfterEvent: number;
  sentSeconds: number;
  problems: string[];
}

/**
 * Drives `servers`: `clients` long-polling clients, each polling a random live node at every
 * request, and `messages` sends to random clients through random live nodes; `events[k]` runs
 * when message k is about to be sent (it may mark nodes dead in `alive` first). Waits until every
 * acknowledged message was delivered (or 120 s passed) and says what happened to each.
 */
async function drive(
  t: Test,
  servers: readonly RunningServer[],
  clients: number,
  messages: number,
  /** Each gets the nodes' liveness (to mark one dead before killing it) and the refusals so far. */
  events: ReadonlyMap<number, (alive: boolean[], refusals: () => number) => Promise<void>>,
): Promise<RunOutcome> {
  const CLIENTS = clients;
  const MESSAGES = messages;
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
      if (eventsBegun && alive[node]) pollsAfterKill++;
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
  let pending: Promise<void> = Promise.resolve();
  let eventsBegun = false;
  const sender = async (): Promise<void> => {
    while (next < MESSAGES) {
      const s = next++;
      const event = events.get(s);
      if (event !== undefined) {
        eventsBegun = true;
        pending = pending.then(() => event(alive, () => refused + unknown));
      }
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
      // "may have been queued" (the answer was lost) and "Redis queued it" (--redis-wait not met): fate unknown.
      const maybeQueued = /may have been queued|^Redis queued it/.test(reply.message ?? '');
      refusedKind[s] = maybeQueued ? 2 : 1;
      if (maybeQueued) unknown++;
      else refused++;
      // Redis (or this client's Cluster master) is away: wait until this node can read the client's
      // queue again (a status op goes to Redis) or dies, rather than spend the run's messages on refusals.
      await waitFor(
        `node ${node} reaching Redis again for c${client}`,
        async () => !alive[node] || (await apps[node]!.request({ op: 'status', client: `c${client}` }, 30_000).catch(() => null))?.ok === true,
        { timeoutMs: 120_000, intervalMs: 50 },
      );
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: SENDERS }, sender));
  await pending;
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
  // Held polls end when the servers are killed in teardown; the pollers' errors are ignored once stopping.
  for (const a of agents) a.destroy();
  void Promise.allSettled(pollers);
  return {
    acked, refused, unknown, lost: lost(), duplicates, outOfOrder, refusedDelivered,
    pollsAfterEvent: pollsAfterKill, sentSeconds, problems: firstProblems,
  };
}

/** The checks every run must pass, and a comment with its figures. */
function check(t: Test, o: RunOutcome, clients: number, messages: number, minAcked = 0.8): void {
  t.comment(
    `${messages} messages in ${o.sentSeconds.toFixed(1)} s: ${o.acked} acknowledged, ${o.refused} refused (store_unavailable), ${o.unknown} of unknown fate; ` +
      `polls on the nodes up after the first event: ${o.pollsAfterEvent}`,
  );
  if (o.problems.length > 0) t.comment(`first problems:\n${o.problems.join('\n')}`);
  t.equal(o.lost, 0, 'no acknowledged message lost');
  t.equal(o.duplicates, 0, 'nothing delivered twice');
  t.equal(o.outOfOrder, 0, 'each client got its messages in id order');
  t.equal(o.refusedDelivered, 0, 'no message refused with "nothing was queued" was delivered');
  t.ok(o.acked > messages * minAcked, `at least ${minAcked * 100}% of the messages were acknowledged (${o.acked})`);
  t.ok(o.pollsAfterEvent > clients, 'clients went on polling the live nodes after the first event');
  t.equal(o.problems.length, 0, 'no other problem seen');
}

const missing = redisMissing();
if (missing !== undefined) {
  t.skip(`needs a real Redis: ${missing}`);
} else {
  t.setTimeout(600_000);
  const nodeFlags = ['--threads', '1', '--ttl', '900', '--max-queue', '100000'];

  t.test('3 nodes, 2,000 clients, 100,000 messages, a node killed and Redis restarted: 0 lost, 0 duplicated, 0 out of order', async (t) => {
    const redis = await startRedis(t, { appendfsync: 'everysec' });
    const servers = await Promise.all(Array.from({ length: NODES }, () => startServer(t, ['--redis', redis.url, ...nodeFlags])));
    const outcome = await drive(t, servers, 2000, 100_000, new Map([
      [40_000, async (alive: boolean[]) => {
        alive[NODES - 1] = false;
        await servers[NODES - 1]!.kill();
        t.comment(`node ${NODES - 1} killed with SIGKILL at message 40000`);
      }],
      [70_000, async (_alive: boolean[], refusals: () => number) => {
        const before = refusals();
        await redis.stop();
        // Wait for a send refused while it is away, so the refusal path is exercised.
        await waitFor('a send refused while Redis is down', () => refusals() > before, { timeoutMs: 30_000 });
        await redis.restart();
        t.comment('Redis stopped and restarted at message 70000');
      }],
    ]));
    check(t, outcome, 2000, 100_000);
    t.ok(outcome.refused + outcome.unknown > 0, 'sends were refused while Redis was down');
  });

  t.test('on Redis Cluster (3 masters, 3 replicas): a master killed mid-run fails over, and nothing acknowledged is lost', async (t) => {
    const cluster = await startRedisCluster(t, 3, 1);
    // --redis-wait 1: an ok means the shard's replica has it, so the failover cannot lose it.
    const servers = await Promise.all(Array.from({ length: NODES }, () => startServer(t, ['--redis', cluster.url, '--redis-wait', '1', ...nodeFlags])));
    const outcome = await drive(t, servers, 500, 10_000, new Map([
      [3000, async () => {
        const victim = cluster.masters[0]!;
        await victim.kill();
        t.comment(`Redis Cluster master on port ${victim.port} killed with SIGKILL at message 3000`);
      }],
    ]));
    // Sends to the failed shard are refused until its replica takes over (2 s of node timeout, then the election).
    check(t, outcome, 500, 10_000, 0.5);
  });
}
