// One request on the app port: the bench asks the server under test for {"op":"stats"} to check
// that it really holds the polls the generators think it holds.
import { connect } from 'node:net';
import { type JsonObject, numberField, parseObjectLine } from './json-fields.js';
// The one definition of the stats reply (src/protocol/stats.ts), from the build the bench runs against.
import type { StatsReply } from '../../dist/protocol/stats.js';

/** The figures of a stats reply the bench reads, checked to be numbers; `raw` is the whole reply. */
export type ServerStats = Pick<StatsReply, 'connections' | 'held_polls' | 'clients' | 'queued'> & { raw: JsonObject };

/** Sends one request line and resolves with its reply object; rejects after `timeoutMs`. */
export function appRequest(host: string, port: number, request: JsonObject, timeoutMs = 5000): Promise<JsonObject> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let buffer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply to ${JSON.stringify(request)} from ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(JSON.stringify(request) + '\n'));
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const newline = buffer.indexOf('\n');
      if (newline < 0) return;
      clearTimeout(timer);
      socket.destroy();
      try {
        resolve(parseObjectLine(buffer.slice(0, newline), `reply from ${host}:${port}`));
      } catch (e) {
        reject(e);
      }
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`app request to ${host}:${port} failed: ${e.message}`));
    });
  });
}

export async function queryStats(host: string, port: number): Promise<ServerStats> {
  const raw = await appRequest(host, port, { op: 'stats' });
  const where = 'stats reply';
  if (raw['ok'] !== true) throw new Error(`${where}: ${JSON.stringify(raw)}`);
  return {
    connections: numberField(raw, 'connections', where),
    held_polls: numberField(raw, 'held_polls', where),
    clients: numberField(raw, 'clients', where),
    queued: numberField(raw, 'queued', where),
    raw,
  };
}
