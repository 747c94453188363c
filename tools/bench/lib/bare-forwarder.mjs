// Baseline for router-forwarding: a bare zeromq.js ROUTER that swaps the first two frames and
// sends, nothing else. CURVE server with a fresh key, same socket options as ZmqRouterTransport.
// Prints {"event":"ready","addresses":[...],"serverkey":"<z85>"} on stdout; SIGTERM stops it.
import { bindBareRouter } from './bare-router-socket.mjs';

const { router, serverkey } = await bindBareRouter({ address: process.argv[2] ?? 'tcp://127.0.0.1:0' });
process.stdout.write(`${JSON.stringify({ event: 'ready', addresses: [router.lastEndpoint], serverkey })}\n`);
process.once('SIGTERM', () => router.close());

let dropped = 0;
for await (const frames of router) {
  if (frames.length < 2) continue;
  const sender = frames[0];
  frames[0] = frames[1];
  frames[1] = sender;
  try {
    await router.send(frames);
  } catch {
    dropped++;
  }
}
process.stderr.write(`${JSON.stringify({ event: 'stopped', dropped })}\n`);
