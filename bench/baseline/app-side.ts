// The baseline's app side: node:net, newline-delimited JSON, PROTOCOL.md section 2.
import { createServer, type Server, type Socket } from 'node:net';
import type { ClientStore } from './client-store.js';

const CLIENT_ID = /^[A-Za-z0-9_:-]{1,64}$/;

type Request = Record<string, unknown>;

function fail(code: string, message: string): Record<string, unknown> {
  return { ok: false, error: code, message };
}

function validClient(v: unknown): v is string {
  return typeof v === 'string' && CLIENT_ID.test(v);
}

function handle(store: ClientStore, request: Request, maxMessage: number, counters: { connections: () => number }): Record<string, unknown> {
  switch (request['op']) {
    case 'send': {
      const hasClient = 'client' in request;
      const hasClients = 'clients' in request;
      if (hasClient === hasClients) return fail('bad_request', 'send needs exactly one of "client" or "clients"');
      if (!('data' in request)) return fail('bad_request', 'send needs "data"');
      const json = JSON.stringify(request['data']);
      if (Buffer.byteLength(json) > maxMessage) return fail('too_large', `data is over ${maxMessage} bytes`);
      if (hasClient) {
        if (!validClient(request['client'])) return fail('bad_request', 'client must be 1-64 characters of [A-Za-z0-9_:-]');
        const result = store.send(request['client'], json);
        return result.ok ? { ...result } : fail('queue_full', `the queue of ${request['client']} is full: it must poll before more can be queued`);
      }
      const clients = request['clients'];
      if (!Array.isArray(clients) || clients.length < 1 || clients.length > 10000 || !clients.every(validClient)) {
        return fail('bad_request', 'clients must list 1 to 10000 valid client ids');
      }
      if (new Set(clients).size !== clients.length) return fail('bad_request', 'clients must be distinct');
      const result = store.sendMany(clients, json);
      return result.ok ? { ...result } : fail('queue_full', 'a queue of these clients is full: nothing was queued');
    }
    case 'status': {
      if (!validClient(request['client'])) return fail('bad_request', 'client must be 1-64 characters of [A-Za-z0-9_:-]');
      return { ok: true, ...store.status(request['client']) };
    }
    case 'stats': {
      const s = store.stats();
      const connections = counters.connections();
      return {
        ok: true, connections, held_polls: s.heldPolls, clients: s.clients, queued: s.queued, sent: s.sent,
        delivered: s.delivered, expired: s.expired, refused: s.refused, threads: [{ connections, held_polls: s.heldPolls }],
      };
    }
    case 'auth':
      return { ok: true };
    default:
      return fail('unknown_op', `unknown op: ${JSON.stringify(request['op'])}`);
  }
}

function reply(store: ClientStore, line: string, maxMessage: number, counters: { connections: () => number }): string {
  let request: unknown;
  try {
    request = JSON.parse(line);
  } catch {
    return JSON.stringify(fail('bad_json', 'the line is not valid JSON'));
  }
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    return JSON.stringify(fail('bad_request', 'a request is a JSON object'));
  }
  const answer = handle(store, request as Request, maxMessage, counters);
  if ('ref' in request) answer['ref'] = (request as Request)['ref'];
  return JSON.stringify(answer);
}

/** Creates the app server; the caller listens. `connections` reports the subscriber side's count for stats. */
export function createAppSide(store: ClientStore, maxLine: number, maxMessage: number, connections: () => number): Server {
  const counters = { connections };
  return createServer((socket: Socket) => {
    socket.setEncoding('utf8');
    socket.setNoDelay(true);
    let buffer = '';
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const replies: string[] = [];
      let start = 0;
      for (let end = buffer.indexOf('\n'); end >= 0; end = buffer.indexOf('\n', start)) {
        let line = buffer.slice(start, end);
        start = end + 1;
        if (line.endsWith('\r')) line = line.slice(0, -1);
        if (Buffer.byteLength(line) > maxLine) {
          socket.end(replies.join('') + JSON.stringify(fail('too_large', `line over ${maxLine} bytes`)) + '\n');
          buffer = '';
          return;
        }
        if (line.trim() === '') continue;
        replies.push(reply(store, line, maxMessage, counters) + '\n');
      }
      buffer = buffer.slice(start);
      if (replies.length > 0) socket.write(replies.join(''));
      if (Buffer.byteLength(buffer) > maxLine) {
        socket.end(JSON.stringify(fail('too_large', `line over ${maxLine} bytes`)) + '\n');
        buffer = '';
      }
    });
    socket.on('error', () => socket.destroy());
  });
}
