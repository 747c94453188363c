// One side of the router-forwarding benchmark: a DEALER speaking VIP frames through a router.
//   --role sender    streams --messages messages to bench.receiver, at most --window unacknowledged
//   --role receiver  counts them, acknowledges every 500, prints {"event":"result",...} and exits
// Keys: --serverkey (Z85 or base64url), optional --publickey/--secretkey (else a fresh pair).
import { Dealer, curveKeyPair } from 'zeromq';
import { parseBenchArgs } from './args.mjs';

const o = parseBenchArgs({
  role: { type: 'string', default: 'receiver' },
  address: { type: 'string', default: 'tcp://127.0.0.1:22916' },
  serverkey: { type: 'string', default: '' },
  publickey: { type: 'string', default: '' },
  secretkey: { type: 'string', default: '' },
  messages: { type: 'number', default: 100000 },
  payload: { type: 'number', default: 64 },
  window: { type: 'number', default: 2000 },
});
const ACK_EVERY = 500;
const SENDER = 'bench.sender';
const RECEIVER = 'bench.receiver';

/** libzmq takes a CURVE key as 40-char Z85 text or 32 raw bytes. */
const curveKey = (text) => (text.length === 40 ? text : Buffer.from(text, 'base64url'));
const pair = o.publickey && o.secretkey ? { publicKey: o.publickey, secretKey: o.secretkey } : curveKeyPair();
const socket = new Dealer({
  routingId: o.role === 'sender' ? SENDER : RECEIVER,
  sendHighWaterMark: 6000,
  receiveHighWaterMark: 6000,
  linger: 0,
  ...(o.serverkey
    ? { curveServerKey: curveKey(o.serverkey), curvePublicKey: curveKey(pair.publicKey), curveSecretKey: curveKey(pair.secretKey) }
    : {}),
});
socket.connect(o.address);
process.once('SIGTERM', () => socket.close());
const vip = (to, id, subsystem, ...args) => [to, 'VIP1', '', id, subsystem, ...args];

if (o.role === 'receiver') await receive();
else await send();

async function receive() {
  let count = 0;
  let first = 0;
  for await (const f of socket) {
    const subsystem = String(f[4] ?? '');
    if (subsystem === 'bench.sync') {
      await socket.send(vip(SENDER, 'sync', 'bench.sync-ack'));
      continue;
    }
    if (subsystem !== 'bench') continue;
    if (count === 0) first = performance.now();
    count++;
    if (count % ACK_EVERY === 0 || count === o.messages) await socket.send(vip(SENDER, String(count), 'bench.ack'));
    if (count === o.messages) break;
  }
  const elapsedMs = performance.now() - first;
  process.stdout.write(`${JSON.stringify({ event: 'result', received: count, elapsedMs, rate: ((count - 1) / elapsedMs) * 1000 })}\n`);
  socket.close();
}

async function send() {
  let synced = false;
  let acked = 0;
  let wake;
  const reader = (async () => {
    for await (const f of socket) {
      const subsystem = String(f[4] ?? '');
      if (subsystem === 'bench.sync-ack') synced = true;
      else if (subsystem === 'bench.ack') acked = Math.max(acked, Number(String(f[3])));
      wake?.();
      if (acked >= o.messages) return;
    }
  })();
  const waitWake = (ms) =>
    new Promise((r) => {
      const t = setTimeout(r, ms);
      wake = () => {
        clearTimeout(t);
        wake = undefined;
        r();
      };
    });
  while (!synced) {
    await socket.send(vip(RECEIVER, 'sync', 'bench.sync'));
    await waitWake(100);
  }
  const payload = Buffer.alloc(o.payload, 0x61);
  for (let i = 0; i < o.messages; i++) {
    while (i - acked >= o.window) await waitWake(1000);
    await socket.send(vip(RECEIVER, String(i), 'bench', payload));
  }
  await reader;
  process.stdout.write(`${JSON.stringify({ event: 'sent', messages: o.messages })}\n`);
  socket.close();
}
