// What --redis names: one Redis (redis://, rediss://), or a master found through Redis Sentinel
// (redis-sentinel://). One home for the rule: the config checks URLs with it, the store
// connects with what it returns.
//
//   redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]          one Redis (rediss://: over TLS)
//   redis-sentinel://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]...]/MASTER[/DB]
//                                                       the master named MASTER, asked of these sentinels
//                                                       (PASSWORD is the master's; sentinels without auth)

import type { RedisOptions } from 'ioredis';

export type RedisTarget =
  | { readonly kind: 'single'; readonly url: string }
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
  'redis://[:PASSWORD@]HOST:PORT[/DB], rediss://... (TLS) or redis-sentinel://[:PASSWORD@]HOST:PORT[,HOST:PORT...]/MASTER[/DB]';

const DEFAULT_SENTINEL_PORT = 26379;

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
  const scheme = 'redis-sentinel://';
  if (!text.startsWith(scheme)) return `unknown scheme (expected ${REDIS_URL_RULE})`;
  let rest = text.slice(scheme.length);
  let username: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = userinfo.indexOf(':');
    username = colon < 0 ? decodeURIComponent(userinfo) : decodeURIComponent(userinfo.slice(0, colon)) || undefined;
    password = colon < 0 ? undefined : decodeURIComponent(userinfo.slice(colon + 1));
  }
  const [hostList = '', master = '', db = '0', ...extra] = rest.split('/');
  if (extra.length > 0) return 'too many path parts: /MASTER[/DB]';
  if (master === '') return 'no master name: redis-sentinel://HOST:PORT/MASTER';
  if (!/^\d+$/.test(db)) return 'the database must be a number';
  const sentinels: Array<{ host: string; port: number }> = [];
  for (const part of hostList.split(',')) {
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(part);
    if (m === null) return `bad sentinel address ${JSON.stringify(part)}: HOST[:PORT]`;
    const port = m[2] === undefined ? DEFAULT_SENTINEL_PORT : Number(m[2]);
    if (port < 1 || port > 65535) return `bad port in ${JSON.stringify(part)}`;
    sentinels.push({ host: m[1]!.replace(/^\[|\]$/g, ''), port });
  }
  return { kind: 'sentinel', sentinels, master: decodeURIComponent(master), username, password, db: Number(db) };
}

/** ioredis options for the target (`base` are the store's own). */
export function connectionOptions(target: RedisTarget, base: RedisOptions): { url?: string; options: RedisOptions } {
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
