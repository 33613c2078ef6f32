// CPU the manager spends per member of a group at a publish (docs/ARCHITECTURE.md, "Groups"),
// with worker ports that do nothing, so the figure is the manager's alone:
//
//   npm run build:ts && node dist/bench/group-publish-cpu.js [--members 100000] [--runs 3]
//
//   unheld  20 publishes to --members members none of which holds a poll: each member is counted
//           for --max-queue, nothing is delivered (the publish waits in the group's log)
//   held    5 rounds of: a publish to --members held members (each gets the one prebuilt body),
//           then every member's next poll with the publish's id as cursor (held again)
// Not a test: figures from a shared machine vary; take the median of --runs.
//
// It imports the compiled Manager from dist/ like manager-poll-cpu.ts (bench/tsconfig.json
// compiles bench/ alone), so its type here is the little this file needs.

interface PublishReply {
  ok: boolean;
  id?: number;
}
interface ManagerLike {
  join(clients: string[], group: string): { ok: boolean };
  publish(group: string, data: string): PublishReply;
  onPoll(worker: number, handle: number, client: string, since: number): void;
}
type ManagerClass = new (
  options: { ttlMs: number; maxQueue: number; now: () => number; sleep: (ms: number) => void },
  workers: Array<{ deliver(handle: number, body: string): void; release(handle: number): void }>,
) => ManagerLike;

async function loadManager(): Promise<ManagerClass> {
  const here = new URL('.', import.meta.url);
  const root = here.pathname.endsWith('/dist/bench/') ? '../' : '../dist/';
  const module = (await import(new URL(root + 'manager/manager.js', here).href)) as { Manager: ManagerClass };
  return module.Manager;
}

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} expects a positive integer`);
  return n;
}

function run(Manager: ManagerClass, members: number): { unheldNs: number; heldNs: number } {
  let clock = 1_700_000_000_000;
  let lastBody = '';
  const port = { deliver: (_handle: number, body: string) => void (lastBody = body), release: () => undefined };
  const manager = new Manager({ ttlMs: 60_000, maxQueue: 1000, now: () => clock, sleep: (ms) => void (clock += ms) }, [port, port]);
  const ids = Array.from({ length: members }, (_, i) => `client-${i}`);
  for (let i = 0; i < members; i += 10_000) manager.join(ids.slice(i, i + 10_000), 'g');
  let t0 = process.hrtime.bigint();
  const PUBLISHES = 20;
  for (let k = 0; k < PUBLISHES; k++) {
    clock++;
    manager.publish('g', `{"k":${k}}`);
  }
  const unheldNs = Number(process.hrtime.bigint() - t0) / PUBLISHES / members;
  let handle = 1;
  // Each member's first poll gets the 20 publishes; the next, with that cursor, is held.
  for (let i = 0; i < members; i++) manager.onPoll(i & 1, handle++, ids[i]!, 0);
  const cursor = (JSON.parse(lastBody) as { cursor: number }).cursor;
  for (let i = 0; i < members; i++) manager.onPoll(i & 1, handle++, ids[i]!, cursor);
  const ROUNDS = 5;
  t0 = process.hrtime.bigint();
  for (let k = 0; k < ROUNDS; k++) {
    clock++;
    const reply = manager.publish('g', `{"r":${k}}`);
    if (!reply.ok || reply.id === undefined) throw new Error('publish refused');
    for (let i = 0; i < members; i++) manager.onPoll(i & 1, handle++, ids[i]!, reply.id);
  }
  const heldNs = Number(process.hrtime.bigint() - t0) / ROUNDS / members;
  return { unheldNs, heldNs };
}

const members = flag('--members', 100_000);
const runs = flag('--runs', 3);
const Manager = await loadManager();
const results = Array.from({ length: runs }, () => run(Manager, members));
const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`members ${members}, runs ${runs} (median):`);
console.log(`  unheld: ${median(results.map((r) => r.unheldNs)).toFixed(1)} ns per member per publish`);
console.log(`  held:   ${median(results.map((r) => r.heldNs)).toFixed(1)} ns per member per publish and re-poll`);
