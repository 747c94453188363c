import { createServer } from 'node:net';

/**
 * A tcp port on 127.0.0.1 that was free a moment ago, for tests that must restart a platform on
 * the same address (binding `:0` would give the restarted process another port).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
