// A minimal VIP router built from our ZmqRouterTransport (built dist): forwards peer-addressed
// messages as the router does (`[recipient, sender, VIP1, user, ...]`, args by reference).
// Used by router-forwarding when the platform app is not built. CURVE with a fresh key, no ZAP.
// Prints {"event":"ready","addresses":[...],"serverkey":"<z85>"} on stdout; SIGTERM stops it.
import { curveKeyPair } from 'zeromq';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../../../packages/zmq/dist/index.js', import.meta.url));
const { ZmqRouterTransport } = await import(dist);
const keys = curveKeyPair();
const transport = new ZmqRouterTransport({
  addresses: [process.argv[2] ?? 'tcp://127.0.0.1:0'],
  secretKey: keys.secretKey,
  authenticate: false,
});
const userFrames = new Map();
await transport.start({
  message(m, user) {
    if (m.recipient.length === 0) return;
    let u = userFrames.get(user);
    if (u === undefined) userFrames.set(user, (u = Buffer.from(user)));
    void transport.deliver(m.recipient, m.sender, u, m.id, m.subsystem, m.args);
  },
});
process.stdout.write(`${JSON.stringify({ event: 'ready', addresses: transport.endpoints, serverkey: keys.publicKey })}\n`);
process.once('SIGTERM', () => {
  void transport.close().then(() => process.stderr.write(`${JSON.stringify({ event: 'stopped', stats: transport.stats() })}\n`));
});
