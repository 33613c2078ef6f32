// The operator port (--metrics-host, --metrics-port): GET /metrics answers the
// Prometheus text exposition; every other path is 404. node:http on the main
// thread: a scrape every few seconds is not the hot path, and the polling port
// (the native engine) never serves /metrics.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { log } from '../log.js';
import { Metrics, type MetricsSources } from './metrics.js';

export interface MetricsServerOptions {
  host: string;
  /** 0 picks a free port (see MetricsServer.port). */
  port: number;
}

export interface MetricsServer {
  /** The bound port. */
  readonly port: number;
  readonly metrics: Metrics;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

export const METRICS_PATH = '/metrics';

/** Listens for scrapes; rejects with the listen error (e.g. EADDRINUSE) if the port cannot be bound. */
export function startMetricsServer(options: MetricsServerOptions, sources: MetricsSources): Promise<MetricsServer> {
  const metrics = new Metrics(sources);
  const server = createServer((req, res) => void answer(metrics, req, res));
  // Scrapers keep their connection open between scrapes; nothing else should linger.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      server.on('error', (err) => log(`metrics port: ${err.message}; still listening`));
      metrics.start();
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : options.port;
      resolve({
        port,
        metrics,
        close() {
          metrics.stop();
          return new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          });
        },
      });
    });
  });
}

async function answer(metrics: Metrics, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  if (path !== METRICS_PATH) return plain(res, 404, 'not found: the metrics are at GET /metrics\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return plain(res, 405, 'method not allowed: GET /metrics\n');
  }
  let text: string;
  try {
    text = await metrics.scrape();
  } catch (err) {
    log(`metrics scrape failed: ${(err as Error).stack ?? (err as Error).message}`);
    return plain(res, 500, 'the metrics could not be read; see the server log\n');
  }
  res.writeHead(200, {
    'Content-Type': metrics.contentType,
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : text);
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
