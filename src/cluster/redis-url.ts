// What --redis names: one Redis (redis://, rediss://), or a master found through Redis Sentinel
// (redis-sentinel://). One home for the rule: the config checks URLs with it, the store
// connects with what it returns.
//
//   redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]          one Redis (rediss://: over TLS)
//   redis-sentinel://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]...]/MASTER[/DB]
//                                                       the master named MASTER, asked of these sentinels
//                                                       (PASSWORD is the master's; sentinels without auth)
//   redis-cluster://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]...]
//                                                       a Redis Cluster, found from any of these nodes

import type { RedisOptions } from 'ioredis';

export type RedisTarget =
  | { readonly kind: 'single'; readonly url: string }
  | {
      readonly kind: 'cluster';
      readonly nodes: ReadonlyArray<{ host: string; port: number }>;
      readonly username: string | undefined;
      readonly password: string | undefined;
    }
  | {
      readonly kind: 'sentinel';
      readonly sentinels: ReadonlyArray<{ host: string; port: number }>;
      readonly master: string;
      readonly username: string | undefined;
      readonly password: string | undefined;
      readonly db: number;
    };

/** The rule in words, for --help and errors. */
export const REDIS_URL_RULE =
  'redis://[:PASSWORD@]HOST:PORT[/DB], rediss://... (TLS), redis-sentinel://[:PASSWORD@]HOST:PORT[,HOST:PORT...]/MASTER[/DB] or redis-cluster://[:PASSWORD@]HOST:PORT[,HOST:PORT...]';

const DEFAULT_PORT = 6379;
const DEFAULT_SENTINEL_PORT = 26379;

/** "HOST[:PORT],..." as addresses, or what is wrong. */
function parseHosts(list: string, defaultPort: number): Array<{ host: string; port: number }> | string {
  const out: Array<{ host: string; port: number }> = [];
  for (const part of list.split(',')) {
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(part);
    if (m === null) return `bad address ${JSON.stringify(part)}: HOST[:PORT]`;
    const port = m[2] === undefined ? defaultPort : Number(m[2]);
    if (port < 1 || port > 65535) return `bad port in ${JSON.stringify(part)}`;
    out.push({ host: m[1]!.replace(/^\[|\]$/g, ''), port });
  }
  return out;
}

/** "[[USER]:PASSWORD@]REST" split. */
function splitUserinfo(text: string): { rest: string; username: string | undefined; password: string | undefined } {
  const at = text.lastIndexOf('@');
  if (at < 0) return { rest: text, username: undefined, password: undefined };
  const userinfo = text.slice(0, at);
  const colon = userinfo.indexOf(':');
  return {
    rest: text.slice(at + 1),
    username: colon < 0 ? decodeURIComponent(userinfo) : decodeURIComponent(userinfo.slice(0, colon)) || undefined,
    password: colon < 0 ? undefined : decodeURIComponent(userinfo.slice(colon + 1)),
  };
}

/** The target, or a string saying what is wrong. */
export function parseRedisUrl(text: string): RedisTarget | string {
  if (text.startsWith('redis://') || text.startsWith('rediss://')) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return 'not a URL';
    }
    if (url.hostname === '') return 'no host';
    if (url.pathname !== '' && url.pathname !== '/' && !/^\/\d+$/.test(url.pathname)) return 'the path must be a database number, e.g. /0';
    return { kind: 'single', url: text };
  }
  if (text.startsWith('redis-cluster://')) {
    const { rest, username, password } = splitUserinfo(text.slice('redis-cluster://'.length));
    const list = rest.endsWith('/') ? rest.slice(0, -1) : rest;
    if (list.includes('/')) return 'a cluster has no database or path: redis-cluster://HOST:PORT[,HOST:PORT...]';
    const nodes = parseHosts(list, DEFAULT_PORT);
    if (typeof nodes === 'string') return nodes;
    return { kind: 'cluster', nodes, username, password };
  }
  const scheme = 'redis-sentinel://';
  if (!text.startsWith(scheme)) return `unknown scheme (expected ${REDIS_URL_RULE})`;
  const { rest, username, password } = splitUserinfo(text.slice(scheme.length));
  const [hostList = '', master = '', db = '0', ...extra] = rest.split('/');
  if (extra.length > 0) return 'too many path parts: /MASTER[/DB]';
  if (master === '') return 'no master name: redis-sentinel://HOST:PORT/MASTER';
  if (!/^\d+$/.test(db)) return 'the database must be a number';
  const sentinels = parseHosts(hostList, DEFAULT_SENTINEL_PORT);
  if (typeof sentinels === 'string') return sentinels;
  return { kind: 'sentinel', sentinels, master: decodeURIComponent(master), username, password, db: Number(db) };
}

/** ioredis options for the target (`base` are the store's own). */
export function connectionOptions(target: Exclude<RedisTarget, { kind: 'cluster' }>, base: RedisOptions): { url?: string; options: RedisOptions } {
  if (target.kind === 'single') return { url: target.url, options: base };
  return {
    options: {
      ...base,
      sentinels: target.sentinels.map((s) => ({ host: s.host, port: s.port })),
      name: target.master,
      db: target.db,
      ...(target.username === undefined ? {} : { username: target.username }),
      ...(target.password === undefined ? {} : { password: target.password }),
    },
  };
}

/** The target without its password, for logs and errors. */
export function describeRedisTarget(target: RedisTarget): string {
  if (target.kind === 'cluster') return `the cluster of ${target.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  if (target.kind === 'sentinel') {
    return `the master ${target.master} of sentinels ${target.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`;
  }
  try {
    const parsed = new URL(target.url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(an unparsable URL)';
  }
}
