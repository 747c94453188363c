// Baseline for the pubsub bench: a bare zeromq.js ROUTER answering VIP pubsub frame for frame
// like the platform (same frames and sizes, so the same CURVE and copy work per message) with no
// parsing, validation, auth or bookkeeping: `subscribe` remembers the sender, `list` answers `[]`,
// `publish` sends the delivery ([sub, '', VIP1, user, id, pubsub, publish, topic,
// {"sender": ..., <body>]) to every subscriber, then the ack ([pub, '', VIP1, user, id, pubsub,
// request_response, <4-byte count>]). CURVE server with a fresh key, no ZAP, the platform's
// socket options. Prints {"event":"ready","address","serverkey"} on stdout; SIGTERM stops it.
import { bindBareRouter } from './bare-router-socket.mjs';

const curve = process.argv[2] !== 'false';
const { router, serverkey } = await bindBareRouter({ curve });
process.stdout.write(`${JSON.stringify({ event: 'ready', address: router.lastEndpoint, serverkey })}\n`);
process.once('SIGTERM', () => router.close());

const EMPTY = Buffer.alloc(0);
const TRUE = Buffer.from([1]);
const subscribers = [];
const heads = new Map();
let dropped = 0;
const send = async (frames) => {
  try {
    await router.send(frames);
  } catch {
    dropped++;
  }
};

for await (const f of router) {
  // [sender, recipient '', VIP1, user, id, subsystem, op, ...]
  if (f.length < 7 || f[1].length !== 0 || String(f[5]) !== 'pubsub') continue;
  const [sender, , vip, user, id, subsystem, op] = f;
  switch (String(op)) {
    case 'subscribe':
      subscribers.push(sender);
      await send([sender, EMPTY, vip, user, id, subsystem, Buffer.from('request_response'), TRUE]);
      break;
    case 'list':
      await send([sender, EMPTY, vip, user, id, subsystem, Buffer.from('list_response'), Buffer.from('[]')]);
      break;
    case 'publish': {
      const key = sender.toString('latin1');
      let head = heads.get(key);
      if (!head) heads.set(key, (head = Buffer.from(`{"sender": "${sender}", `)));
      const payload = Buffer.concat([head, f[8].subarray(1)]);
      for (const s of subscribers) await send([s, EMPTY, vip, user, id, subsystem, op, f[7], payload]);
      const count = Buffer.alloc(4);
      count.writeUInt32LE(subscribers.length);
      await send([sender, EMPTY, vip, user, id, subsystem, Buffer.from('request_response'), count]);
      break;
    }
  }
}
process.stderr.write(`${JSON.stringify({ event: 'stopped', dropped })}\n`);
