// A loopback port nothing listens on right now, for a peer the bench starts (nginx, redis-server)
// that cannot be told "port 0": the peer then binds it, and a lost race is the caller's to retry.
import { createServer } from 'node:net';

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const address = s.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}
