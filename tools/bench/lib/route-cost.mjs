// Diagnostic, not one of `npm run bench`: the in-process CPU cost of Router.route for forwarded
// messages (peer -> peer, 64 B payload, authentication-style reserved identities on), through a
// fake transport whose deliver resolves at once: the router's own JavaScript on the forwarding
// path, without zeromq, CURVE or other processes, so far less exposed to a loaded machine than
// router-forwarding.mjs. Used to A/B two builds (BENCHMARKS.md, "Router refactor, before and after"):
//   node tools/bench/lib/route-cost.mjs <checkout with packages/router/dist> [messages]
// Prints one JSON line: CPU ns per routed message (after 200,000 warm-up messages).
import { pathToFileURL } from 'node:url';
const [dir, nText = '1000000'] = process.argv.slice(2);
if (!dir) {
  process.stderr.write('usage: node tools/bench/lib/route-cost.mjs <checkout> [messages]\n');
  process.exit(2);
}
const { Router, ReservedIdentities } = await import(pathToFileURL(`${dir}/packages/router/dist/index.js`).href);
let handlers;
const ok = Promise.resolve('ok');
const transport = {
  kind: 'zmq',
  start: async (h) => {
    handlers = h;
  },
  deliver: () => ok,
  close: async () => {},
};
const reserved = new ReservedIdentities({ 'platform.auth': ['platform-user'] });
const router = new Router({ transport, identity: 'router', reservedIdentities: reserved });
await router.start();
const f = (s) => Buffer.from(s);
const a = f('bench.cli'),
  b = f('bench.srv'),
  vipUser = f(''),
  id = f('1700000000.000000.1.000000'),
  rpc = f('RPC');
const args = [Buffer.alloc(64, 120)];
const m1 = { sender: a, recipient: b, user: vipUser, id, subsystem: rpc, args };
const m2 = { sender: b, recipient: a, user: vipUser, id, subsystem: rpc, args };
const n = Number(nText);
const batch = 2000;
async function loop(count) {
  for (let i = 0; i < count; i += batch) {
    for (let k = 0; k < batch; k += 2) {
      handlers.message(m1, 'user-a');
      handlers.message(m2, 'user-b');
    }
    await router.poll();
  }
}
await loop(200_000); // warm-up
const c0 = process.cpuUsage();
await loop(n);
const c = process.cpuUsage(c0);
const { forwarded } = router.stats();
// Every message must have been forwarded (none refused or dropped), or the figure means nothing.
if (forwarded !== 200_000 + n) throw new Error(`forwarded ${forwarded} of ${200_000 + n}`);
console.log(JSON.stringify({ dir, messages: n, forwarded, nsPerMessage: ((c.user + c.system) * 1000) / n }));
await router.close?.();
