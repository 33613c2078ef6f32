// One request on the app port: the bench asks the server under test for {"op":"stats"} to check
// that it really holds the polls the generators think it holds.
import { connect } from 'node:net';
import { type JsonObject, numberField, parseObjectLine } from './json-fields.js';

export interface ServerStats {
  connections: number;
  heldPolls: number;
  clients: number;
  queued: number;
  raw: JsonObject;
}

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
    heldPolls: numberField(raw, 'held_polls', where),
    clients: numberField(raw, 'clients', where),
    queued: numberField(raw, 'queued', where),
    raw,
  };
}
