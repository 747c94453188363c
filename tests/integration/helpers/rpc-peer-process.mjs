// A VIP agent in a process of its own, for tests that kill a peer outright (SIGKILL): no agentstop,
// no clean close. Exports `hang` (never answers; prints {"event":"called","method":"hang"} when
// called) and `echo`. Prints {"event":"ready"} once welcomed. Uses the built packages (npm run build).
// argv[2]: JSON { bus: 'zmq' | 'rmq', identity, zmq?: { address, serverKey, publicKey, secretKey, vipHome },
//                rmq?: { url, vhost, instanceName } }
import { createZmqAgent } from '@vip/agent/zmq';
import { createRmqAgent } from '@vip/agent/rmq';

const o = JSON.parse(process.argv[2] ?? '{}');
const line = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);
const agent = o.bus === 'rmq'
  ? createRmqAgent({ identity: o.identity, rmq: o.rmq, pubsub: false })
  : await createZmqAgent({ identity: o.identity, ...o.zmq, pubsub: false });
agent.rpc.export('hang', () => {
  line({ event: 'called', method: 'hang' });
  return new Promise(() => undefined);
});
agent.rpc.export('echo', (x) => x);
await agent.start();
line({ event: 'ready', identity: o.identity });
process.once('SIGTERM', () => void agent.close().then(() => process.exit(0)));
