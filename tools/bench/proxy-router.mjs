#!/usr/bin/env node
// RPC through the ZeroMQ proxy router (issue 12) next to the same call between two RMQ agents, same
// run, same platform process (`vip-platform --message-bus rmq --proxy-router-address ...`, shared
// guest login, CURVE on the ZeroMQ side with the platform's own key pair), sequential calls/s:
//   raw       raw amqplib request/reply (two queues on the `volttron` exchange): the broker's floor
//   rmq-rmq   VIP RPC, @vip/agent/rmq agent -> @vip/agent/rmq agent (peer to peer through the broker)
//   zmq-rmq   VIP RPC, @vip/agent/zmq agent -> proxy -> broker -> RMQ agent, and back
//   rmq-zmq   VIP RPC, RMQ agent -> proxy inbox (send_via_proxy) -> ZeroMQ agent, and back
//   *-window  rmq-rmq and zmq-rmq with --window calls in flight (throughput rather than latency)
// The target (issue 12): zmq-rmq at least 0.5x rmq-rmq. Each run after calls/10 (at most 200)
// untimed warm-up calls; runs alternate between the scenarios; median of --runs. Needs the broker
// with the management API and the built platform app (npm run build). Prints a table and one JSON line.
// Platform wake-ups/call: voluntary context switches of all its threads per call (a count the machine's
// load does not inflate, unlike CPU time). --compare <other checkout>/apps/platform/dist/main.js: a
// second platform process of that build (own virtual host and agents); each proxied scenario runs on
// it as <name>@b right next to this build's, the order alternating by run (A/B in one run).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import { parseBenchArgs } from './lib/args.mjs';
import { platformBuilt, platformMain, rmqPlatformArgs, startPlatformApp } from './lib/platform.mjs';
import { formatRate, median, ratio } from './lib/stats.mjs';
import { formatTable } from './lib/table.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
for (const p of ['rmq', 'agent', 'protocol', 'proxy-router']) {
  if (!existsSync(join(root, `packages/${p}/dist/index.js`))) {
    process.stderr.write(`proxy-router bench: packages/${p}/dist is missing: run \`npm run build\` first\n`);
    process.exit(2);
  }
}
if (!platformBuilt()) {
  process.stderr.write('proxy-router bench: apps/platform/dist is missing: npx nx run @vip/platform:build\n');
  process.exit(2);
}
const { RabbitMqManagement, ensureVolttronBroker } = await import('@vip/rmq/admin');
const { createRmqAgent } = await import('@vip/agent/rmq');
const { createZmqAgent } = await import('@vip/agent/zmq');

const o = parseBenchArgs(
  {
    url: { type: 'string', default: 'amqp://guest:guest@127.0.0.1:5672', help: 'broker' },
    management: { type: 'string', default: 'http://127.0.0.1:15672', help: 'management API (guest/guest)' },
    calls: { type: 'number', default: 2000, help: 'sequential RPC calls per run' },
    payload: { type: 'number', default: 64, help: 'payload bytes' },
    runs: { type: 'number', default: 3, help: 'runs per scenario (median reported)' },
    window: { type: 'number', default: 32, help: 'calls in flight in the *-window scenarios' },
    only: { type: 'string', default: '', help: 'comma-separated scenarios to run (rmq-rmq, the baseline, always runs)' },
    compare: {
      type: 'string',
      default: '',
      help: 'another platform build (path of its apps/platform/dist/main.js): the proxied scenarios also run on it, as <name>@b, interleaved',
    },
  },
  { usage: 'node tools/bench/proxy-router.mjs [options]' },
);
const mgmtOptions = { baseUrl: o.management, user: 'guest', password: 'guest' };
const mgmt = new RabbitMqManagement(mgmtOptions);
const payload = 'x'.repeat(o.payload);
const warmupCalls = Math.max(1, Math.min(200, Math.ceil(o.calls / 10)));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** CPU ms process `pid` has used (utime + stime from /proc, USER_HZ 100); NaN where that cannot be read. */
function procCpuMs(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}

/**
 * Voluntary context switches of all threads of process `pid` (each one a sleep and a wake-up: the
 * count a load does not change, unlike CPU time); NaN where /proc cannot be read.
 */
function procWakeups(pid) {
  try {
    let n = 0;
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      const m = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8'));
      if (m) n += Number(m[1]);
    }
    return n;
  } catch {
    return NaN;
  }
}

/**
 * Sequential calls after the warm-up: calls/s, CPU µs per call of this process and of the platform
 * process `pid` (router + proxy), and the platform's wake-ups per call.
 */
async function timed(call, pid) {
  for (let i = 0; i < warmupCalls; i++) await call(i);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const p0 = procCpuMs(pid);
  const w0 = procWakeups(pid);
  for (let i = 0; i < o.calls; i++) await call(i);
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return {
    rate: o.calls / seconds,
    cpuUs: (c.user + c.system) / o.calls,
    platformUs: ((procCpuMs(pid) - p0) * 1000) / o.calls,
    wakeups: (procWakeups(pid) - w0) / o.calls,
  };
}

/** `calls` calls with `window` of them in flight at any time (throughput, less bound to wake-up latency than sequential calls). */
function windowed(call, pid) {
  return timed(async () => {
    const batch = [];
    for (let j = 0; j < o.window; j++) batch.push(call());
    await Promise.all(batch);
  }, pid).then((r) => ({
    rate: r.rate * o.window,
    cpuUs: r.cpuUs / o.window,
    platformUs: r.platformUs / o.window,
    wakeups: r.wakeups / o.window,
  }));
}

/** Raw amqplib request/reply through the `volttron` exchange, sequential. */
async function rawRpc(vhost, pid) {
  const conns = [];
  for (let i = 0; i < 2; i++) {
    const c = await amqp.connect(`${o.url}/${encodeURIComponent(vhost)}`, { noDelay: true });
    c.on('error', () => {});
    conns.push(c);
  }
  try {
    const [ca, cb] = await Promise.all(conns.map((c) => c.createChannel()));
    for (const [ch, q] of [
      [ca, 'raw.client'],
      [cb, 'raw.server'],
    ]) {
      await ch.assertQueue(q, { durable: false, exclusive: true, autoDelete: true });
      await ch.bindQueue(q, 'volttron', q);
    }
    await cb.consume('raw.server', (m) => cb.publish('volttron', 'raw.client', m.content, { messageId: m.properties.messageId }), {
      noAck: true,
    });
    let resolve;
    await ca.consume('raw.client', () => resolve(), { noAck: true });
    return await timed(
      (i) =>
        new Promise((r) => {
          resolve = r;
          ca.publish('volttron', 'raw.server', Buffer.from(JSON.stringify([payload])), { messageId: String(i) });
        }),
      pid,
    );
  } finally {
    for (const c of conns) await c.close();
  }
}

/**
 * One platform process (`main`, the platform build to run) in its own virtual host, with the four
 * agents: rmq.srv, rmq.cli (RMQ), zmq.srv, zmq.cli (ZeroMQ, at the proxy). Resolves with them and
 * `close()`; on a failure what was started is stopped.
 */
async function setUp(main, label) {
  const vhost = `vip-bench-proxy-${process.pid}-${label}`;
  await ensureVolttronBroker({ url: o.url, vhost, management: mgmtOptions });
  const proxyAddress = `tcp://127.0.0.1:${await freePort()}`;
  const app = await startPlatformApp({
    main,
    extraArgs: [
      ...rmqPlatformArgs({ url: o.url, vhost, management: o.management, instanceName: 'bench' }),
      '--proxy-router-address',
      proxyAddress,
    ],
  });
  const agents = [];
  const close = async () => {
    for (const a of agents) await a.close().catch(() => undefined);
    await app.stop();
    await mgmt.deleteVhost(vhost);
  };
  try {
    const link = { url: o.url, vhost, instanceName: 'bench' };
    const zmqOptions = { address: proxyAddress, serverKey: app.serverkey, publicKey: app.keys.public, secretKey: app.keys.secret };
    const rmqSrv = createRmqAgent({ identity: 'rmq.srv', rmq: link, management: false });
    const rmqCli = createRmqAgent({ identity: 'rmq.cli', rmq: link, management: false });
    const zmqSrv = await createZmqAgent({ identity: 'zmq.srv', ...zmqOptions });
    const zmqCli = await createZmqAgent({ identity: 'zmq.cli', ...zmqOptions });
    agents.push(zmqCli, zmqSrv, rmqCli, rmqSrv);
    for (const a of [rmqSrv, zmqSrv]) a.rpc.export('echo', (x) => x);
    for (const a of [rmqSrv, rmqCli, zmqSrv, zmqCli]) await a.start();
    // rmq.cli learns zmq.srv's bus from the router (peerlist add ... zmq) and then goes through the proxy inbox
    const deadline = Date.now() + 10_000;
    while ((await rmqCli.peerlist.listWithMessagebus())['zmq.srv'] !== 'zmq' && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    return { pid: app.pid, vhost, rmqSrv, rmqCli, zmqSrv, zmqCli, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The scenarios on platform `p`; `suffix` names the compared build's twins of the proxied ones. */
function scenariosOf(p, suffix = '') {
  const proxied = [
    {
      name: 'zmq-rmq',
      what: 'VIP RPC, ZMQ agent -> proxy -> RMQ agent',
      run: () => timed(() => p.zmqCli.rpc.call('rmq.srv', 'echo', payload), p.pid),
    },
    {
      name: 'rmq-zmq',
      what: 'VIP RPC, RMQ agent -> proxy -> ZMQ agent',
      run: () => timed(() => p.rmqCli.rpc.call('zmq.srv', 'echo', payload), p.pid),
    },
    {
      name: 'zmq-rmq-window',
      what: `the same, ${o.window} calls in flight`,
      run: () => windowed(() => p.zmqCli.rpc.call('rmq.srv', 'echo', payload), p.pid),
    },
  ].map((s) => ({ ...s, name: `${s.name}${suffix}`, what: suffix ? `${s.what} [build B]` : s.what }));
  if (suffix) return proxied;
  return [
    { name: 'raw', what: 'raw amqplib request/reply', run: () => rawRpc(p.vhost, p.pid) },
    {
      name: 'rmq-rmq',
      what: 'VIP RPC, RMQ agent -> RMQ agent',
      run: () => timed(() => p.rmqCli.rpc.call('rmq.srv', 'echo', payload), p.pid),
    },
    proxied[0],
    proxied[1],
    {
      name: 'rmq-rmq-window',
      what: `the same, ${o.window} calls in flight`,
      run: () => windowed(() => p.rmqCli.rpc.call('rmq.srv', 'echo', payload), p.pid),
    },
    proxied[2],
  ];
}

const platforms = [await setUp(platformMain, 'a')];
try {
  if (o.compare !== '') platforms.push(await setUp(o.compare, 'b'));
  let scenarios = scenariosOf(platforms[0]);
  if (platforms[1]) {
    // each proxied scenario right after its twin on the other build, the order alternating by run
    const twins = new Map(scenariosOf(platforms[1], '@b').map((s) => [s.name.slice(0, -2), s]));
    scenarios = scenarios.flatMap((s) => (twins.has(s.name) ? [s, twins.get(s.name)] : [s]));
  }
  const wanted = o.only === '' ? undefined : new Set(['rmq-rmq', ...o.only.split(',').map((x) => x.trim())]);
  if (wanted) scenarios = scenarios.filter((s) => wanted.has(s.name.replace(/@b$/, '')));
  const results = Object.fromEntries(scenarios.map((s) => [s.name, []]));
  const twinOf = (s) => scenarios.find((t) => t.name === `${s.name}@b`);
  for (let r = 0; r < o.runs; r++) {
    for (const s of scenarios.filter((x) => !x.name.endsWith('@b'))) {
      const twin = twinOf(s);
      const order = twin ? (r % 2 === 0 ? [s, twin] : [twin, s]) : [s];
      for (const x of order) results[x.name].push(await x.run());
    }
  }
  const stat = (name, key) => median((results[name] ?? []).map((x) => x[key]));
  const rate = (name) => stat(name, 'rate');
  const base = rate('rmq-rmq');
  const baseOf = (name) => (name.startsWith('zmq-rmq-window') || name === 'rmq-rmq-window' ? 'rmq-rmq-window' : 'rmq-rmq');
  const rows = scenarios.map((s) => ({
    scenario: s.name,
    what: s.what,
    rate: `${formatRate(rate(s.name))} calls/s`,
    vs: s.name === baseOf(s.name) ? 'baseline' : `${ratio(rate(s.name), rate(baseOf(s.name))).toFixed(2)}x ${baseOf(s.name)}`,
    cpu: stat(s.name, 'cpuUs').toFixed(1),
    platform: stat(s.name, 'platformUs').toFixed(1),
    wakeups: stat(s.name, 'wakeups').toFixed(2),
  }));
  console.log(
    `payload ${o.payload} B, ${o.calls} sequential calls per run, median of ${o.runs}; platform process with the proxy router; shared login` +
      (platforms[1] ? `; @b / build B: the same on the platform build ${o.compare}` : ''),
  );
  console.log(
    formatTable(rows, [
      { key: 'scenario', title: 'scenario', align: 'left' },
      { key: 'what', title: 'what', align: 'left' },
      { key: 'rate', title: 'rate', align: 'right' },
      { key: 'vs', title: 'vs RMQ->RMQ', align: 'right' },
      { key: 'cpu', title: 'bench CPU µs/call', align: 'right' },
      { key: 'platform', title: 'platform CPU µs/call', align: 'right' },
      { key: 'wakeups', title: 'platform wake-ups/call', align: 'right' },
    ]),
  );
  const json = Object.fromEntries(
    scenarios.map((s) => [
      s.name.replaceAll('-', '_'),
      {
        rate: Math.round(rate(s.name)),
        runs: results[s.name].map((x) => Math.round(x.rate)),
        platform_us: results[s.name].map((x) => Math.round(x.platformUs)),
      },
    ]),
  );
  console.log(
    JSON.stringify({
      bench: 'proxy-router',
      ...json,
      zmq_rmq_ratio: Number(ratio(rate('zmq-rmq'), base).toFixed(3)),
      rmq_zmq_ratio: Number(ratio(rate('rmq-zmq'), base).toFixed(3)),
      zmq_rmq_window_ratio: Number(ratio(rate('zmq-rmq-window'), rate('rmq-rmq-window')).toFixed(3)),
    }),
  );
} finally {
  for (const p of platforms) await p.close();
}
