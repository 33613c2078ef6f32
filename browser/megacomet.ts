// The browser client of MegaComet (docs/PROTOCOL.md sections 1 and 1b): one
// subscription per connect(), over Server-Sent Events (GET /events), fetch
// long-polls (GET /poll) or JSONP (GET /poll&callback=), with the cursor kept
// across network loss (and, opt-in, across reloads), capped exponential
// backoff with jitter, and no message delivered twice. No dependencies;
// built by browser/build.mjs into an ES module and a classic <script> file
// (global `MegaComet`).

export type Transport = 'sse' | 'poll' | 'jsonp';

/**
 * connecting: the first request is on its way; open: subscribed (a stream is
 * open, or a poll is held or answered); reconnecting: a request failed, the
 * next waits for its backoff (or for the browser to come back online);
 * replaced: a newer subscription of the same client id (another tab) took
 * over, nothing more comes, the client stopped; error: the server refused the
 * subscription (bad client id or token; `detail` says why), the client stopped;
 * closed: close() was called.
 */
export type State = 'connecting' | 'open' | 'reconnecting' | 'replaced' | 'error' | 'closed';

export interface StateDetail {
  /** The error code (PROTOCOL.md's catalogue, or "network"), for error and reconnecting. */
  error?: string;
  message?: string;
}

export interface ConnectOptions {
  /** The server's base URL, e.g. "https://push.example.com" (a trailing slash is fine). */
  url: string;
  /** The subscriber's client id (1-64 characters of A-Z a-z 0-9 _ : -). */
  client: string;
  /** Subscriber token, when the server runs with --secret. */
  token?: string;
  /** The cursor to start after: the id of the last message this client already has (default 0). */
  since?: number;
  /** 'sse', 'poll' or 'jsonp'; by default SSE where EventSource exists, else fetch long-poll, else JSONP. */
  transport?: Transport | 'auto';
  /** Each message, once, in order: `data` is the app's JSON value; `id` its message id (see Connection). */
  onMessage?: (data: unknown, id: number | undefined) => void;
  onState?: (state: State, detail: StateDetail) => void;
  /** Keep the cursor in sessionStorage, so a reload of the page resumes where it was (default false). */
  resume?: boolean;
  /** First retry delay, ms (default 500); doubles per failure up to maxDelayMs (default 30000), with jitter. */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** A poll answer later than this is given up and retried (default 40000; keep it above --poll-timeout). */
  pollDeadlineMs?: number;
}

export interface Connection {
  /** The transport in use. */
  readonly transport: Transport;
  /** The id of the last message delivered (or the starting cursor). */
  readonly cursor: number;
  readonly state: State;
  /** Stops for good: aborts what is in flight, delivers nothing more. */
  close(): void;
}

type Answer = { cursor?: number; messages?: unknown[]; replaced?: boolean; error?: string; message?: string; status?: number };

let jsonpCount = 0;

/** Subscribes `options.client`; see ConnectOptions. */
export function connect(options: ConnectOptions): Connection {
  const base = options.url.replace(/\/+$/, '');
  const g = globalThis as Record<string, unknown>;
  const pick = options.transport ?? 'auto';
  const transport: Transport = pick !== 'auto' ? pick : typeof g.EventSource === 'function' ? 'sse' : typeof g.fetch === 'function' ? 'poll' : 'jsonp';
  const minDelay = options.minDelayMs ?? 500;
  const maxDelay = options.maxDelayMs ?? 30_000;
  const deadline = options.pollDeadlineMs ?? 40_000;
  const storeKey = `megacomet:${base}:${options.client}`;
  const store = options.resume ? safeStorage() : undefined;

  let cursor = Math.max(options.since ?? 0, Number(store?.getItem(storeKey)) || 0);
  let state: State = 'connecting';
  let failures = 0;
  let stopped = false;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let cancel: (() => void) | undefined;

  const setState = (next: State, detail: StateDetail = {}): void => {
    if (state === next && next !== 'reconnecting') return;
    state = next;
    options.onState?.(next, detail);
  };
  const stop = (final: State, detail: StateDetail = {}): void => {
    if (stopped) return;
    stopped = true;
    clearTimeout(retryTimer);
    cancel?.();
    cancel = undefined;
    events?.removeEventListener('online', onOnline);
    setState(final, detail);
  };
  // A message is delivered only if its id is past the cursor: a replay after a reconnect or a reload never repeats one.
  const deliver = (data: unknown, id: number | undefined): void => {
    if (stopped) return;
    options.onMessage?.(data, id);
  };
  const advance = (to: number): void => {
    cursor = to;
    store?.setItem(storeKey, String(to));
  };
  const query = (): string => {
    let q = `client=${encodeURIComponent(options.client)}&since=${cursor}`;
    if (options.token !== undefined) q += `&token=${encodeURIComponent(options.token)}`;
    return q;
  };
  const succeeded = (): void => {
    failures = 0;
    setState('open');
  };
  const retry = (detail: StateDetail): void => {
    if (stopped) return;
    cancel = undefined;
    setState('reconnecting', detail);
    // Full jitter over the upper half: clients cut off together do not come back together.
    const ceiling = Math.min(maxDelay, minDelay * 2 ** failures++);
    retryTimer = setTimeout(start, ceiling / 2 + Math.random() * (ceiling / 2));
  };
  const onOnline = (): void => {
    // Back online: do not wait out a long backoff.
    if (!stopped && cancel === undefined) {
      clearTimeout(retryTimer);
      failures = 0;
      start();
    }
  };
  // `window` in a page, `self` in a worker; neither elsewhere.
  const events = typeof g.addEventListener === 'function' ? (globalThis as unknown as EventTarget) : undefined;
  events?.addEventListener('online', onOnline);

  /** An answer of /poll (either transport): refused, replaced, or messages. False: stop. */
  const onAnswer = (a: Answer, status: number): boolean => {
    if (a.error !== undefined) {
      stop('error', { error: a.error, message: `${a.message ?? ''} (HTTP ${a.status ?? status})` });
      return false;
    }
    succeeded();
    const messages = a.messages ?? [];
    const to = a.cursor ?? cursor;
    if (to > cursor && messages.length > 0) {
      advance(to);
      messages.forEach((m, i) => deliver(m, i === messages.length - 1 ? to : undefined));
    }
    if (a.replaced === true) {
      stop('replaced');
      return false;
    }
    return true;
  };

  function startSse(): void {
    const source = new EventSource(`${base}/events?${query()}`);
    let opened = false;
    cancel = () => source.close();
    source.onopen = () => {
      opened = true;
      succeeded();
    };
    source.onmessage = (e) => {
      const id = Number(e.lastEventId);
      if (!(id > cursor)) return;
      advance(id);
      deliver(JSON.parse(e.data as string) as unknown, id);
    };
    source.addEventListener('replaced', () => stop('replaced'));
    source.onerror = () => {
      if (stopped) return;
      // The browser reconnects by itself (with Last-Event-ID) while readyState is CONNECTING;
      // once it gives up (an error status before the stream, or never opened) backoff takes over.
      if (source.readyState === EventSource.CONNECTING && opened) {
        setState('reconnecting', { error: 'network' });
        return;
      }
      source.close();
      if (opened || typeof g.fetch !== 'function') return retry({ error: 'network', message: 'the event stream failed' });
      // EventSource says nothing about a refusal: ask once with fetch, which shows the JSON error.
      const probe = new AbortController();
      cancel = () => probe.abort();
      fetch(`${base}/events?${query()}`, { signal: probe.signal, cache: 'no-store' }).then(
        async (res) => {
          if (res.status === 400 || res.status === 403) return onAnswer((await res.json()) as Answer, res.status);
          probe.abort();
          retry({ error: 'network', message: `the event stream failed (HTTP ${res.status})` });
        },
        () => retry({ error: 'network', message: 'the event stream failed' }),
      );
    };
  }

  function startPoll(): void {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), deadline);
    cancel = () => abort.abort();
    fetch(`${base}/poll?${query()}`, { signal: abort.signal, cache: 'no-store' })
      .then(async (res) => {
        const body = (await res.json()) as Answer;
        if (res.status >= 500) throw new Error(`HTTP ${res.status}`);
        return { body, status: res.status };
      })
      .then(
        ({ body, status }) => {
          clearTimeout(timer);
          if (!stopped && onAnswer(body, status)) start();
        },
        (err: unknown) => {
          clearTimeout(timer);
          retry({ error: 'network', message: String(err) });
        },
      );
  }

  function startJsonp(): void {
    const name = `__megacomet${++jsonpCount}_${Math.floor(Math.random() * 1e9)}`;
    const script = document.createElement('script');
    let done = false;
    const finish = (): void => {
      done = true;
      clearTimeout(timer);
      delete g[name];
      script.remove();
    };
    const timer = setTimeout(() => {
      finish();
      retry({ error: 'network', message: 'the JSONP poll did not answer' });
    }, deadline);
    cancel = finish;
    g[name] = (a: Answer) => {
      if (done) return;
      finish();
      if (!stopped && onAnswer(a, 200)) start();
    };
    script.onerror = () => {
      if (done) return;
      finish();
      retry({ error: 'network', message: 'the JSONP poll failed' });
    };
    script.src = `${base}/poll?${query()}&callback=${name}`;
    document.head.appendChild(script);
  }

  function start(): void {
    if (stopped) return;
    if (transport === 'sse') startSse();
    else if (transport === 'poll') startPoll();
    else startJsonp();
  }

  options.onState?.('connecting', {});
  start();
  return {
    transport,
    get cursor() {
      return cursor;
    },
    get state() {
      return state;
    },
    close: () => stop('closed'),
  };
}

function safeStorage(): Storage | undefined {
  try {
    return globalThis.sessionStorage;
  } catch {
    return undefined; // storage disabled (privacy settings): resume within the page only
  }
}
