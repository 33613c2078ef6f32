// One app connection: frames its lines, answers each in order, and stops
// reading while its replies are not being read.
//
// Everything between a line and its reply is synchronous, so replies leave in
// request order by construction. Replies to the lines of one chunk are joined
// into one write. If the socket's unsent output passes HIGH_WATER, the
// connection stops taking lines (the rest stays in the framer) and pauses the
// socket until 'drain': a client that pipelines without reading costs at most
// HIGH_WATER + one chunk of replies, not an unbounded buffer.

import { isUtf8 } from 'node:buffer';
import type { Socket } from 'node:net';
import { constantTimeEqual } from './constant-time.js';
import { parseAppLine, type AppRequest } from './app-request.js';
import {
  errorJson,
  errorLine,
  lineTooLargeLine,
  memoryFull,
  notMember,
  queueFull,
  replyLine,
  tooManyGroups,
  unknownGroup,
  WRONG_SECRET,
} from './app-reply.js';
import { MAX_GROUPS_PER_CLIENT } from './groups.js';
import { isBlank, LineFramer, NEED_MORE, TOO_LARGE } from './line-framer.js';
import { REFUSED_QUEUE_FULL, type Manager, type SendRefused } from './manager.js';
import { statsReply, type ThreadCounters } from '../protocol/stats.js';

/** Unsent reply bytes above which the connection stops reading. */
const HIGH_WATER = 1024 * 1024;
/** Replies are written in pieces of about this size while a long batch is answered. */
const WRITE_BATCH = 64 * 1024;
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
  readonly manager: Manager;
  /** One consistent snapshot of every worker's row. */
  readonly threadStats: () => readonly ThreadCounters[];
  /** --app-secret, or undefined when connections need no auth. */
  readonly secret: string | undefined;
  readonly maxLine: number;
  readonly maxMessage: number;
  /** With a secret: how long a connection may take to authenticate. */
  readonly authTimeoutMs: number;
  /** Open app connections, for stats. */
  appConnections(): number;
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
    if (!this.blocked || this.closing) return;
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
        this.closeAfter(out + (this.authorized ? lineTooLargeLine(this.context.maxLine) : UNAUTHENTICATED_TOO_LARGE));
        return;
      }
      if (isBlank(line)) continue;
      // toString would replace bad sequences with U+FFFD and deliver altered data.
      out += isUtf8(line) ? this.answer(line.toString('utf8')) : NOT_UTF8;
      if (out.length >= WRITE_BATCH) {
        this.socket.write(out);
        out = '';
        if (this.socket.writableLength >= HIGH_WATER && !all) break;
      }
    }
    // The deliveries these lines made go to the workers' rings first, then the replies to the
    // app: waking the workers before the app's thread gives them the CPU first on a busy box.
    this.context.manager.flushDeliveries();
    if (out.length > 0) this.socket.write(out);
    if (this.socket.writableLength >= HIGH_WATER && !all) {
      this.blocked = true;
      this.socket.pause();
    }
  }

  /** The reply line to one request line. */
  private answer(text: string): string {
    const parsed = parseAppLine(text, { maxMessage: this.context.maxMessage, authorized: this.authorized });
    if (!parsed.ok) return errorLine(parsed.error, parsed.ref);
    return replyLine(this.perform(parsed.request) ?? '{"ok":true}', parsed.ref);
  }

  /** Carries out a valid request; returns its reply object's JSON, or null for a bare {"ok":true}. */
  private perform(request: AppRequest): string | null {
    const { manager } = this.context;
    switch (request.op) {
      case 'send': {
        const id = manager.sendOne(request.client, request.data);
        if (id > 0) return `{"ok":true,"id":${id}}`;
        return refusal({ ok: false, code: id === REFUSED_QUEUE_FULL ? 'queue_full' : 'memory_full', client: request.client }, manager);
      }
      case 'sendMany': {
        const result = manager.sendMany(request.clients, request.data);
        return result.ok ? `{"ok":true,"ids":[${result.ids.join(',')}]}` : refusal(result, manager);
      }
      case 'status': {
        const { connected, queued } = manager.status(request.client);
        return `{"ok":true,"connected":${connected},"queued":${queued},"groups":${JSON.stringify(manager.groupsOf(request.client))}}`;
      }
      case 'join': {
        const result = manager.join(request.clients, request.group);
        if (result.ok) return `{"ok":true,"members":${result.members}}`;
        return errorJson(result.code === 'too_many_groups' ? tooManyGroups(result.client, MAX_GROUPS_PER_CLIENT) : memoryFull(manager.memoryBudget));
      }
      case 'leave': {
        const result = manager.leave(request.clients, request.group);
        if (result.ok) return `{"ok":true,"members":${result.members}}`;
        return errorJson(result.code === 'unknown_group' ? unknownGroup(request.group) : notMember(result.client, request.group));
      }
      case 'publish': {
        const result = manager.publish(request.group, request.data);
        if (result.ok) return `{"ok":true,"id":${result.id},"queued":${result.queued},"full":${result.full}}`;
        return errorJson(result.code === 'unknown_group' ? unknownGroup(request.group) : memoryFull(manager.memoryBudget));
      }
      case 'group': {
        const info = manager.group(request.group, request.limit ?? 0);
        if (info === null) return errorJson(unknownGroup(request.group));
        if (request.limit === undefined) return `{"ok":true,"members":${info.members}}`;
        return `{"ok":true,"members":${info.members},"clients":${JSON.stringify(info.clients)}}`;
      }
      case 'stats':
        return this.statsJson();
      case 'auth': {
        const { secret } = this.context;
        // A failed auth leaves the connection as it was (an authorized one stays authorized).
        if (secret !== undefined && !constantTimeEqual(request.secret, secret)) return errorJson(WRONG_SECRET);
        if (!this.authorized) {
          this.authorized = true;
          this.framer.setLimit(this.context.maxLine);
        }
        return null;
      }
    }
  }

  private statsJson(): string {
    const { manager, threadStats, appConnections } = this.context;
    return JSON.stringify(statsReply(manager.stats(), threadStats(), appConnections()));
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

  /** Writes the last replies, then closes; unread input is read and discarded meanwhile so the replies are not lost to a reset. */
  private closeAfter(out: string): void {
    this.closing = true;
    this.blocked = false;
    this.socket.end(out);
    this.socket.resume();
    const linger = setTimeout(() => this.socket.destroy(), LINGER_MS);
    linger.unref();
    this.socket.once('close', () => clearTimeout(linger));
  }
}

/** The error reply to a refused send. */
function refusal(refused: SendRefused, manager: Manager): string {
  return errorJson(refused.code === 'queue_full' ? queueFull(refused.client, manager.maxQueue) : memoryFull(manager.memoryBudget));
}

const NOT_UTF8 = errorLine({ code: 'bad_json', message: 'the line is not valid UTF-8; send JSON text encoded as UTF-8' }, undefined);
const UNAUTHENTICATED_TOO_LARGE = errorLine(
  { code: 'too_large', message: `before a successful auth, lines are limited to ${UNAUTHENTICATED_MAX_LINE} bytes; the connection is closed` },
  undefined,
);
