// One app connection: frames its lines, answers each in order, and stops
// reading while its replies are not being read.
//
// The embedded backend answers every line before the next is read, so
// replies leave in request order by construction. The Redis backend
// (src/cluster/) answers later: its replies wait in `slots`, in request
// order, until every earlier one is ready; at most MAX_UNSETTLED may be
// outstanding before the connection stops reading. Replies to the lines of
// one chunk are joined into one write. If the socket's unsent output passes
// HIGH_WATER, the connection stops taking lines (the rest stays in the
// framer) and pauses the socket until 'drain': a client that pipelines
// without reading costs at most HIGH_WATER + one chunk of replies, not an
// unbounded buffer.

import { isUtf8 } from 'node:buffer';
import type { Socket } from 'node:net';
import { constantTimeEqual } from './constant-time.js';
import { parseAppLine } from './app-request.js';
import { errorJson, errorLine, lineTooLargeLine, replyLine, WRONG_SECRET } from './app-reply.js';
import type { AppBackend } from './app-backend.js';
import { isBlank, LineFramer, NEED_MORE, TOO_LARGE } from './line-framer.js';
import { statsReply, type ThreadCounters } from '../protocol/stats.js';
import { log } from '../log.js';

/** Unsent reply bytes above which the connection stops reading. */
const HIGH_WATER = 1024 * 1024;
/** Replies are written in pieces of about this size while a long batch is answered. */
const WRITE_BATCH = 64 * 1024;
/** Replies the backend has not settled yet above which the connection stops reading. */
const MAX_UNSETTLED = 4096;
/** After too_large, how long unread input is drained before the socket is destroyed. */
const LINGER_MS = 5000;
/**
 * With --app-secret, what a connection that has not authenticated may cost:
 * lines of at most this many bytes (an auth line is short) ...
 */
export const UNAUTHENTICATED_MAX_LINE = 4096;
/** ... and this long to authenticate before it is closed (AppContext.authTimeoutMs). */
export const DEFAULT_AUTH_TIMEOUT_MS = 10_000;

/** What every connection of one app server shares. */
export interface AppContext {
  readonly backend: AppBackend;
  /** One consistent snapshot of every worker's row. */
  readonly threadStats: () => readonly ThreadCounters[];
  /** --app-secret, or undefined when connections need no auth. */
  readonly secret: string | undefined;
  readonly maxLine: number;
  readonly maxMessage: number;
  /** With a secret: how long a connection may take to authenticate. */
  readonly authTimeoutMs: number;
  /** Open app connections. */
  appConnections(): number;
}

/** One reply line in request order; `text` null until the backend settles it. */
interface ReplySlot {
  text: string | null;
  /** A reply made only when every earlier one is written (stats: figures after the requests before it). */
  later?: () => string;
}

export class AppConnection {
  private readonly socket: Socket;
  private readonly context: AppContext;
  private readonly framer: LineFramer;
  private authorized: boolean;
  /** Waiting for 'drain' before taking more lines. */
  private blocked = false;
  /** too_large was answered: input is discarded until the socket goes. */
  private closing = false;
  /** Replies waiting for an earlier one the backend has not settled (empty with the embedded backend). */
  private readonly slots: ReplySlot[] = [];
  /** Slots whose text is still null. */
  private unsettled = 0;
  /** closeAfter() came while replies were awaited: end the socket once they are written. */
  private endWhenSettled = false;

  constructor(socket: Socket, context: AppContext) {
    this.socket = socket;
    this.context = context;
    this.authorized = context.secret === undefined;
    this.framer = new LineFramer(this.authorized ? context.maxLine : Math.min(context.maxLine, UNAUTHENTICATED_MAX_LINE));
    if (!this.authorized) this.startAuthDeadline();
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.onDrain());
    // A reset or similar: the socket is closed anyway and there is no one to tell.
    socket.on('error', () => socket.destroy());
  }

  /**
   * A takeover (src/takeover/): answers the complete lines already read,
   * however much output waits, then closes once the replies are written.
   * Nothing more is read: a line not complete yet is never carried out, and
   * the app sees the connection close without its reply.
   */
  finish(): void {
    if (this.closing) return;
    this.blocked = false;
    this.answerLines(true);
    if (!this.closing) this.closeAfter('');
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    this.framer.push(chunk);
    if (!this.blocked) this.answerLines();
  }

  private onDrain(): void {
    if (!this.blocked || this.closing || this.unsettled >= MAX_UNSETTLED) return;
    this.unblock();
  }

  private unblock(): void {
    this.blocked = false;
    this.answerLines();
    if (!this.blocked && !this.closing) this.socket.resume();
  }

  /** Answers buffered lines until none is complete, or the output backs up (unless `all`). */
  private answerLines(all = false): void {
    let out = '';
    for (;;) {
      const line = this.framer.next();
      if (line === NEED_MORE) break;
      if (line === TOO_LARGE) {
        const last = out + (this.authorized ? lineTooLargeLine(this.context.maxLine) : UNAUTHENTICATED_TOO_LARGE);
        this.context.backend.flushDeliveries();
        this.closeAfter(last);
        return;
      }
      if (isBlank(line)) continue;
      // toString would replace bad sequences with U+FFFD and deliver altered data.
      const reply = isUtf8(line) ? this.answer(line.toString('utf8')) : NOT_UTF8;
      if (typeof reply === 'function') {
        // Only while earlier replies are awaited, so `out` is empty.
        this.slots.push({ text: null, later: reply });
      } else if (typeof reply !== 'string') {
        // From here on, replies wait in slots behind this one.
        if (out !== '') this.slots.push({ text: out });
        out = '';
        this.await(reply);
      } else if (this.slots.length !== 0) {
        this.slots.push({ text: reply });
      } else {
        out += reply;
      }
      if (out.length >= WRITE_BATCH) {
        this.socket.write(out);
        out = '';
        if (this.socket.writableLength >= HIGH_WATER && !all) break;
      }
      if (this.unsettled >= MAX_UNSETTLED && !all) break;
    }
    // The deliveries these lines made go to the workers' rings first, then the replies to the
    // app: waking the workers before the app's thread gives them the CPU first on a busy box.
    this.context.backend.flushDeliveries();
    if (out !== '') {
      if (this.slots.length !== 0) this.slots.push({ text: out });
      else this.socket.write(out);
    }
    this.writeSettled();
    if ((this.socket.writableLength >= HIGH_WATER || this.unsettled >= MAX_UNSETTLED) && !all && !this.closing) {
      this.blocked = true;
      this.socket.pause();
    }
  }

  /** Keeps a slot for a reply the backend settles later. */
  private await(reply: Promise<string>): void {
    const slot: ReplySlot = { text: null };
    this.slots.push(slot);
    this.unsettled++;
    reply.then(
      (text) => {
        slot.text = text;
        this.unsettled--;
        this.writeSettled();
        if (this.blocked && !this.closing && this.unsettled < MAX_UNSETTLED / 2 && this.socket.writableLength < HIGH_WATER) this.unblock();
      },
      (err: unknown) => {
        // A backend words every refusal itself; a rejection is a bug. The app sees the
        // connection close without this reply (and the ones after it), never a wrong one.
        log(`an app request failed inside the server: ${(err as Error).stack ?? String(err)}; closing that app connection`);
        this.unsettled--;
        this.socket.destroy();
      },
    );
  }

  /** Writes the replies at the head of `slots` that are ready, in order; then ends the socket if closeAfter() asked. */
  private writeSettled(): void {
    let out = '';
    let n = 0;
    for (; n < this.slots.length; n++) {
      const slot = this.slots[n]!;
      if (slot.text === null && slot.later !== undefined) slot.text = slot.later();
      if (slot.text === null) break;
      out += slot.text;
    }
    if (n !== 0) this.slots.splice(0, n);
    if (this.socket.destroyed) return;
    if (this.slots.length === 0 && this.endWhenSettled) {
      this.endWhenSettled = false;
      this.socket.end(out);
    } else if (out !== '') {
      this.socket.write(out);
    }
  }

  /** The reply line to one request line, a promise of it, or its maker once the earlier replies are out. */
  private answer(text: string): string | Promise<string> | (() => string) {
    const parsed = parseAppLine(text, { maxMessage: this.context.maxMessage, authorized: this.authorized });
    if (!parsed.ok) return errorLine(parsed.error, parsed.ref);
    const { request, ref } = parsed;
    if (request.op === 'stats') {
      // Figures taken after the requests before it have been carried out, as with the embedded backend.
      if (this.slots.length !== 0) return () => replyLine(this.statsJson(), ref);
      return replyLine(this.statsJson(), ref);
    }
    if (request.op === 'auth') return replyLine(this.authenticate(request.secret) ?? '{"ok":true}', ref);
    const reply = this.context.backend.perform(request);
    if (reply === null || typeof reply === 'string') return replyLine(reply ?? '{"ok":true}', ref);
    return reply.then((json) => replyLine(json ?? '{"ok":true}', ref));
  }

  /** An auth request: null when it succeeded. */
  private authenticate(given: string): string | null {
    const { secret } = this.context;
    // A failed auth leaves the connection as it was (an authorized one stays authorized).
    if (secret !== undefined && !constantTimeEqual(given, secret)) return errorJson(WRONG_SECRET);
    if (!this.authorized) {
      this.authorized = true;
      this.framer.setLimit(this.context.maxLine);
    }
    return null;
  }

  private statsJson(): string {
    const { backend, threadStats, appConnections } = this.context;
    return JSON.stringify(statsReply(backend.stats(), threadStats(), appConnections()));
  }

  /** With --app-secret: a connection that has not authenticated in time is told so and closed. */
  private startAuthDeadline(): void {
    const timer = setTimeout(() => {
      if (this.authorized || this.closing) return;
      const message = `no successful auth within ${this.context.authTimeoutMs / 1000} s of connecting; the connection is closed`;
      this.closeAfter(errorLine({ code: 'unauthorized', message }, undefined));
    }, this.context.authTimeoutMs);
    timer.unref();
    this.socket.once('close', () => clearTimeout(timer));
  }

  /**
   * Writes the last replies (after every earlier one still awaited), then
   * closes; unread input is read and discarded meanwhile so the replies are
   * not lost to a reset.
   */
  private closeAfter(out: string): void {
    this.closing = true;
    this.blocked = false;
    if (this.slots.length === 0) {
      this.socket.end(out);
    } else {
      this.slots.push({ text: out });
      this.endWhenSettled = true;
      this.writeSettled();
    }
    this.socket.resume();
    const linger = setTimeout(() => this.socket.destroy(), LINGER_MS);
    linger.unref();
    this.socket.once('close', () => clearTimeout(linger));
  }
}

const NOT_UTF8 = errorLine({ code: 'bad_json', message: 'the line is not valid UTF-8; send JSON text encoded as UTF-8' }, undefined);
const UNAUTHENTICATED_TOO_LARGE = errorLine(
  { code: 'too_large', message: `before a successful auth, lines are limited to ${UNAUTHENTICATED_MAX_LINE} bytes; the connection is closed` },
  undefined,
);
