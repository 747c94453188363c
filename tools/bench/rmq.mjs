#!/usr/bin/env node
// VIP over RabbitMQ next to raw amqplib, same broker, same run (one process; the broker is the other):
//   rpc       sequential calls/s: raw amqplib request/reply (two queues bound to the `volttron`
//             topic exchange like VIP's, transient messages, no-ack consumers, noDelay) vs VIP RPC
//             (@vip/agent Agent -> Agent through RmqConnection; the platform PROCESS
//             `vip-platform --message-bus rmq` answers the hellos, calls go peer to peer); each
//             run after calls/10 (at most 200) untimed warm-up calls on both sides
//   rpc-wire  rpc next to raw amqplib request/reply with VIP-shaped messages (7.3 body, properties
//             and headers, built once): what the wire format costs apart from our code
//   direct    messages/s one way: raw amqplib publish/consume (acking consumer, as RmqConnection's)
//             vs RmqConnection -> RmqConnection
//   pubsub    messages/s one way: raw amqplib topic publish/consume vs `agent.pubsub` of
//             @vip/agent/rmq agents (VOLTTRON's broker pubsub, RmqPubSubSubsystem; the platform
//             PROCESS only answers hellos), publisher with a window of unresolved publishes, each
//             resolving to the true subscriber count (management API, coalesced binding reads)
//   pubsub-nocount  the same without the management API: publishes resolve 1 (VOLTTRON's answer)
//   pubsub-wire  pubsub-nocount next to raw amqplib publishing VOLTTRON-shaped messages (body,
//             properties and headers of docs/protocol.md 7.6, built once): what the wire format costs
//             apart from our code (the raw consumers only ack)
//   pubsub-router  the router path (`pubsubVia: 'router'`: PubSubService in the platform process),
//             next to raw amqplib doing the same hops (publisher -> relay -> subscriber, reply to
//             the publisher): what a router-mediated pubsub can reach here
// --batch-writes false turns off per-tick write batching on our connections (to measure it).
// Beside each rate: CPU µs per call/message of this process, of the broker (beam.smp, /proc) and
// of the platform process (when one runs), over the timed section only.
// Needs the broker (bash tools/ensure-rabbitmq.sh) with the management API, `npm run build` and
// the platform app (NX_DAEMON=false npx nx run @vip/platform:build).
// --in-process runs the router inside the bench process instead (to tell process cost apart).
// Each scenario runs in a fresh virtual host, deleted afterwards. Prints a table and one JSON line.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import amqp from 'amqplib';
import { parseBenchArgs } from './lib/args.mjs';
import { formatRate, median, ratio } from './lib/stats.mjs';
import { formatTable } from './lib/table.mjs';
import { platformBuilt, rmqPlatformArgs, startPlatformApp } from './lib/platform.mjs';
import { promiseWindow } from './lib/window.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
for (const p of ['rmq', 'router', 'pubsub', 'agent', 'protocol']) {
  if (!existsSync(join(root, `packages/${p}/dist/index.js`))) {
    process.stderr.write(`rmq bench: packages/${p}/dist is missing: run \`npm run build\` first\n`);
    process.exit(2);
  }
}
const { RmqConnection, RmqRouterTransport } = await import('@vip/rmq');
const { RabbitMqManagement, ensureVolttronBroker } = await import('@vip/rmq/admin');
const { Router } = await import('@vip/router');
const { PubSubService } = await import('@vip/pubsub');
// Another build of @vip/agent (A/B on the same machine state): BENCH_AGENT_DIST=<dir>/packages/agent/dist
const agentDist = process.env.BENCH_AGENT_DIST;
const { Agent } = await import(agentDist ? pathToFileURL(join(agentDist, 'index.js')).href : '@vip/agent');
const { createRmqAgent } = await import(agentDist ? pathToFileURL(join(agentDist, 'rmq.js')).href : '@vip/agent/rmq');

const o = parseBenchArgs(
  {
    url: { type: 'string', default: 'amqp://guest:guest@127.0.0.1:5672', help: 'broker' },
    management: { type: 'string', default: 'http://127.0.0.1:15672', help: 'management API (guest/guest)' },
    calls: { type: 'number', default: 2000, help: 'sequential RPC calls per run' },
    messages: { type: 'number', default: 20000, help: 'one-way messages per run' },
    payload: { type: 'number', default: 64, help: 'payload bytes' },
    window: { type: 'number', default: 200, help: 'publishes in flight (VIP pubsub)' },
    runs: { type: 'number', default: 3, help: 'runs per scenario (median reported)' },
    'in-process': { type: 'boolean', default: false, help: 'router in the bench process, not the platform app' },
    'batch-writes': { type: 'boolean', default: true, help: 'per-tick write batching on our broker connections' },
    only: {
      type: 'string',
      default: '',
      help: 'comma-separated scenarios (rpc,rpc-wire,direct,pubsub,pubsub-nocount,pubsub-wire,pubsub-router)',
    },
  },
  { usage: 'node tools/bench/rmq.mjs [options]' },
);

const mgmt = new RabbitMqManagement({ baseUrl: o.management, user: 'guest', password: 'guest' });
const payload = 'x'.repeat(o.payload);
const enc = (s) => Buffer.from(s, 'utf8');
/** Untimed calls before each timed RPC run, raw and VIP alike (JIT warm-up: the steady state is what is compared). */
const warmupCalls = Math.min(200, Math.ceil(o.calls / 10));
let vhosts = 0;

async function withVhost(fn) {
  const vhost = `vip-bench-${process.pid}-${++vhosts}`;
  await ensureVolttronBroker({ url: o.url, vhost, management: { baseUrl: o.management, user: 'guest', password: 'guest' } });
  try {
    return await fn(vhost);
  } finally {
    await mgmt.deleteVhost(vhost);
  }
}

/** CPU ms process `pid` has used (utime + stime from /proc, USER_HZ 100); undefined where that cannot be read. */
function procCpuMs(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return undefined; // not Linux, or gone
  }
}

/** CPU ms the RabbitMQ node (beam.smp) has used; undefined where that cannot be read. */
function brokerCpuMs() {
  try {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let cmd;
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue; // gone meanwhile
      }
      if (cmd.includes('beam.smp') && cmd.includes('rabbit')) return procCpuMs(pid);
    }
  } catch {
    // not Linux: no broker figure
  }
  return undefined;
}

/** The platform process of the running scenario, if any (its CPU is measured too). */
let platformPid;

/**
 * Start measuring the timed section: wall clock, this process's CPU and the broker's CPU.
 * `stop(n)` gives the rate and CPU microseconds per item on each side (the figures the shared,
 * noisy machine disturbs least).
 */
function startTimer() {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const b0 = brokerCpuMs();
  const pid = platformPid;
  const p0 = pid === undefined ? undefined : procCpuMs(pid);
  const perItemUs = (before, after, n) => (before === undefined || after === undefined ? NaN : ((after - before) * 1000) / n);
  return {
    stop(n) {
      const seconds = (performance.now() - t0) / 1000;
      const c = process.cpuUsage(c0);
      return {
        rate: n / seconds,
        cpuUs: (c.user + c.system) / n,
        brokerUs: perItemUs(b0, brokerCpuMs(), n),
        platformUs: perItemUs(p0, pid === undefined ? undefined : procCpuMs(pid), n),
      };
    },
  };
}

/** Close connections, agents (close) and routers (stop), in order. */
async function closeAll(...things) {
  for (const t of things) await (typeof t.close === 'function' ? t.close() : t.stop());
}

function deferred() {
  let resolve;
  const promise = new Promise((r) => (resolve = r));
  return { promise, resolve };
}

async function rawConnect(vhost) {
  const conn = await amqp.connect(`${o.url}/${encodeURIComponent(vhost)}`, { noDelay: true });
  conn.on('error', () => {});
  return conn;
}

/**
 * Raw amqplib request/reply, sequential: calls/s. `wire`: each message shaped as VIP RPC over RMQ
 * (docs/protocol.md 7.3: JSON-RPC body in a JSON array, app_id, type, content type, headers; built
 * once), i.e. what the wire format costs apart from our code.
 */
async function rawRpc(vhost, wire = false) {
  const a = await rawConnect(vhost);
  const b = await rawConnect(vhost);
  try {
    const ca = await a.createChannel();
    const cb = await b.createChannel();
    // The queues VIP declares (non-durable, exclusive, auto-delete), bound to the `volttron` topic
    // exchange every VIP message goes through (docs/protocol.md 7.2/7.3), as the raw `direct` scenario does.
    for (const [ch, q] of [
      [ca, 'client'],
      [cb, 'server'],
    ]) {
      await ch.assertQueue(q, { durable: false, exclusive: true, autoDelete: true });
      await ch.bindQueue(q, 'volttron', q);
    }
    const vipProps = (from, to) => ({
      appId: `bench.${from}`,
      type: 'RPC',
      contentType: 'application/json',
      headers: { recipient: to, proto: 'VIP', user: `bench.${from}` },
    });
    const [reqProps, repProps] = wire ? [vipProps('cli', 'server'), vipProps('srv', 'client')] : [{}, {}];
    const reply = wire ? Buffer.from(JSON.stringify([JSON.stringify({ jsonrpc: '2.0', result: payload, id: '1' })])) : undefined;
    const request = () =>
      Buffer.from(JSON.stringify([wire ? JSON.stringify({ jsonrpc: '2.0', method: 'echo', params: [payload], id: '1' }) : payload]));
    await cb.consume(
      'server',
      (m) => cb.publish('volttron', 'client', reply ?? m.content, { ...repProps, messageId: m.properties.messageId }),
      { noAck: true },
    );
    let waiting;
    await ca.consume('client', () => waiting.resolve(), { noAck: true });
    const call = async (i) => {
      waiting = deferred();
      ca.publish('volttron', 'server', request(), { ...reqProps, messageId: String(i) });
      await waiting.promise;
    };
    for (let i = 0; i < warmupCalls; i++) await call(i);
    const timer = startTimer();
    for (let i = 0; i < o.calls; i++) await call(i);
    return timer.stop(o.calls);
  } finally {
    await closeAll(a, b);
  }
}

/**
 * The RMQ platform: by default the platform PROCESS (`vip-platform --message-bus rmq` in this
 * vhost, pubsub mounted as always); with --in-process a Router in this process. `router.stop()`
 * ends either.
 */
async function vipPlatform(vhost, extensions = []) {
  const link = { url: o.url, vhost, instanceName: 'bench', batchWrites: o['batch-writes'] };
  if (!o['in-process']) {
    const app = await startPlatformApp({
      // shared login: the bench's agents log in as guest, as in the recorded figures (no per-run broker user)
      extraArgs: [...rmqPlatformArgs({ url: o.url, vhost, management: o.management, instanceName: 'bench' }), '--allow-auth', 'false'],
    });
    platformPid = app.pid;
    return { link, router: { stop: () => ((platformPid = undefined), app.stop()) } };
  }
  const router = new Router({ transport: new RmqRouterTransport({ ...link, peerSweepMs: 0 }), instanceName: 'bench', extensions });
  await router.start();
  return { link, router };
}

/** VIP RPC Agent -> Agent over RMQ, sequential: calls/s. */
async function vipRpc(vhost) {
  const { link, router } = await vipPlatform(vhost);
  const srv = new Agent({ identity: 'srv', connection: () => new RmqConnection({ ...link, identity: 'srv' }) });
  const cli = new Agent({ identity: 'cli', connection: () => new RmqConnection({ ...link, identity: 'cli' }) });
  try {
    await srv.start();
    await cli.start();
    srv.rpc.export('echo', (x) => x);
    for (let i = 0; i < Math.max(1, warmupCalls); i++) await cli.rpc.call('srv', 'echo', payload);
    const timer = startTimer();
    for (let i = 0; i < o.calls; i++) await cli.rpc.call('srv', 'echo', payload);
    return timer.stop(o.calls);
  } finally {
    await closeAll(cli, srv, router);
  }
}

/** Raw amqplib publish -> consume through an exchange (topic for pubsub, the volttron exchange either way): msgs/s. */
async function rawOneWay(vhost, routingKey, bindKey, shape = {}) {
  const a = await rawConnect(vhost);
  const b = await rawConnect(vhost);
  try {
    const pub = await a.createChannel();
    const sub = await b.createChannel();
    await sub.prefetch(256);
    await sub.assertQueue('sink', { exclusive: true, autoDelete: true });
    await sub.bindQueue('sink', 'volttron', bindKey);
    const done = deferred();
    let got = 0;
    // `noAck`: consume as RmqConnection does (direct); otherwise ack each message (VIP pubsub acks)
    await sub.consume(
      'sink',
      (m) => {
        if (!shape.noAck) sub.ack(m);
        if (++got === o.messages) done.resolve();
      },
      { noAck: shape.noAck === true },
    );
    const body = shape.body ?? Buffer.from(JSON.stringify([payload]));
    const props = shape.properties ?? { type: 'RPC', appId: 'bench.a' };
    const timer = startTimer();
    for (let i = 0; i < o.messages; i++) {
      if (!pub.publish('volttron', routingKey, body, { ...props, messageId: String(i) })) {
        await new Promise((r) => pub.once('drain', r));
      }
    }
    await done.promise;
    return timer.stop(o.messages);
  } finally {
    await closeAll(a, b);
  }
}

/**
 * The hops VIP pubsub takes, in raw amqplib: publisher -> relay queue -> relay (acks, publishes the
 * delivery to the subscriber's queue and a reply to the publisher, no confirms) -> subscriber;
 * publisher with the same window of unanswered publishes. The ceiling for a router-mediated
 * pubsub on this broker (3 publishes, 3 deliveries per message where raw one-way has 1 and 1).
 */
async function rawRelay(vhost) {
  const [a, r, b] = [await rawConnect(vhost), await rawConnect(vhost), await rawConnect(vhost)];
  try {
    const pub = await a.createChannel();
    const relay = await r.createChannel();
    const sub = await b.createChannel();
    await relay.prefetch(256);
    await sub.prefetch(256);
    for (const [ch, q] of [
      [pub, 'replies'],
      [relay, 'relay'],
      [sub, 'sink'],
    ])
      await ch.assertQueue(q, { exclusive: true, autoDelete: true });
    await relay.consume('relay', (m) => {
      relay.ack(m);
      relay.publish('', 'sink', m.content, { messageId: m.properties.messageId });
      relay.publish('', 'replies', Buffer.from('1'), { messageId: m.properties.messageId });
    });
    const done = deferred();
    let got = 0;
    await sub.consume('sink', (m) => {
      sub.ack(m);
      if (++got === o.messages) done.resolve();
    });
    let inFlight = 0;
    let wake;
    await pub.consume(
      'replies',
      () => {
        inFlight -= 1;
        wake?.();
      },
      { noAck: true },
    );
    const body = Buffer.from(JSON.stringify(['publish', 'bench/topic', JSON.stringify({ bus: '', headers: {}, message: payload })]));
    const timer = startTimer();
    for (let i = 0; i < o.messages; i++) {
      inFlight += 1;
      pub.publish('', 'relay', body, { messageId: String(i) });
      while (inFlight >= o.window) await new Promise((res) => (wake = res));
    }
    await done.promise;
    return timer.stop(o.messages);
  } finally {
    await closeAll(a, r, b);
  }
}

/** RmqConnection -> RmqConnection, peer to peer: msgs/s. */
async function vipDirect(vhost) {
  const { link, router } = await vipPlatform(vhost);
  const a = new RmqConnection({ ...link, identity: 'a' });
  const b = new RmqConnection({ ...link, identity: 'b' });
  try {
    const done = deferred();
    let got = 0;
    b.onMessage(() => {
      if (++got === o.messages) done.resolve();
    });
    await a.open();
    await b.open();
    const msg = { peer: enc('b'), user: enc(''), id: enc('1'), subsystem: enc('RPC'), args: [enc(payload)] };
    const timer = startTimer();
    for (let i = 0; i < o.messages; i++) await a.send(msg);
    await done.promise;
    return timer.stop(o.messages);
  } finally {
    await closeAll(a, b, router);
  }
}

/**
 * `agent.pubsub` of two @vip/agent/rmq agents: msgs/s delivered. `via` 'broker' (VOLTTRON's
 * broker pubsub; `management` false: counts not read) or 'router' (the platform's PubSubService).
 * The publisher keeps `window` publishes unresolved; the subscriber's callback counts.
 */
async function agentPubsub(vhost, via, management) {
  const { link, router } = await vipPlatform(vhost, via === 'router' ? [new PubSubService()] : []);
  const mk = (identity) =>
    createRmqAgent({
      identity,
      rmq: link,
      pubsubVia: via,
      ...(management ? { management: { baseUrl: o.management, user: 'guest', password: 'guest' } } : { management: false }),
    });
  const pub = mk('pub');
  const sub = mk('sub');
  try {
    await pub.start();
    await sub.start();
    const done = deferred();
    let got = 0;
    await sub.pubsub.subscribe('bench', () => {
      if (++got === o.messages) done.resolve();
    });
    if (via === 'broker' && management && (await pub.pubsub.publish('warm/up')) !== 0)
      throw new Error('bench: unexpected subscriber count');
    const window = promiseWindow(o.window);
    let counted = 0;
    let failed;
    const timer = startTimer();
    for (let i = 0; i < o.messages; i++) {
      const full = window.add(
        pub.pubsub.publish('bench/topic', { message: payload }).then(
          (n) => void (counted += n),
          (err) => void (failed ??= err),
        ),
      );
      if (full) await full;
    }
    await done.promise;
    const rate = timer.stop(o.messages);
    await window.drain();
    if (failed) throw failed;
    if (counted !== o.messages) throw new Error(`bench: publishes counted ${counted} subscribers in all, expected ${o.messages}`);
    return rate;
  } finally {
    await closeAll(pub, sub, router);
  }
}

const rawPubsub = () => withVhost((v) => rawOneWay(v, '__pubsub__.bench.bench.topic.#', '__pubsub__.bench.bench.#'));
/** The same, each message shaped as VOLTTRON's RMQ pubsub (body, properties, headers; built once): the wire format's own cost. */
const rawPubsubVolttron = () =>
  withVhost((v) =>
    rawOneWay(v, '__pubsub__.bench.bench.topic.#', '__pubsub__.bench.bench.#', {
      body: Buffer.from(
        JSON.stringify({
          sender: 'pub',
          bus: '',
          headers: { min_compatible_version: '5.0', max_compatible_version: '' },
          message: payload,
        }),
      ),
      properties: {
        appId: 'bench.pub',
        type: 'pubsub',
        contentType: 'application/json',
        headers: { recipient: '', proto: 'VIP', user: 'pub' },
      },
    }),
  );
const scenarios = [
  {
    name: 'rpc',
    unit: 'calls/s',
    base: ['raw amqplib request/reply', () => withVhost(rawRpc)],
    vip: ['VIP RPC (Agent over RMQ)', () => withVhost(vipRpc)],
  },
  {
    name: 'rpc-wire',
    unit: 'calls/s',
    base: ['raw amqplib, VIP-shaped messages', () => withVhost((v) => rawRpc(v, true))],
    vip: ['VIP RPC (Agent over RMQ)', () => withVhost(vipRpc)],
  },
  {
    name: 'direct',
    unit: 'msgs/s',
    base: ['raw amqplib publish/consume', () => withVhost((v) => rawOneWay(v, 'bench.b', 'bench.b', {}))],
    vip: ['RmqConnection -> RmqConnection', () => withVhost(vipDirect)],
  },
  {
    name: 'pubsub',
    unit: 'msgs/s',
    base: ['raw amqplib topic publish/consume', rawPubsub],
    vip: ['agent.pubsub, broker, true counts', () => withVhost((v) => agentPubsub(v, 'broker', true))],
  },
  {
    name: 'pubsub-nocount',
    unit: 'msgs/s',
    base: ['raw amqplib topic publish/consume', rawPubsub],
    vip: ['agent.pubsub, broker, count 1', () => withVhost((v) => agentPubsub(v, 'broker', false))],
  },
  {
    name: 'pubsub-wire',
    unit: 'msgs/s',
    base: ['raw amqplib, VOLTTRON-shaped messages', rawPubsubVolttron],
    vip: ['agent.pubsub, broker, count 1', () => withVhost((v) => agentPubsub(v, 'broker', false))],
  },
  {
    name: 'pubsub-router',
    unit: 'msgs/s',
    base: ['raw amqplib relay (the same 3 hops + reply)', () => withVhost(rawRelay)],
    vip: ['agent.pubsub via the router', () => withVhost((v) => agentPubsub(v, 'router', false))],
  },
];

if (!o['in-process'] && !platformBuilt()) {
  process.stderr.write('rmq bench: apps/platform/dist is missing: NX_DAEMON=false npx nx run @vip/platform:build (or pass --in-process)\n');
  process.exit(2);
}
const only = o.only === '' ? undefined : new Set(o.only.split(','));
const rows = [];
const json = { platform: o['in-process'] ? 'in-process' : 'process' };
for (const s of scenarios.filter((x) => !only || only.has(x.name))) {
  const base = [];
  const vip = [];
  for (let r = 0; r < o.runs; r++) {
    base.push(await s.base[1]());
    vip.push(await s.vip[1]());
  }
  const m = (runs, key) => median(runs.map((r) => r[key]).filter((x) => Number.isFinite(x)));
  const [b, v] = [m(base, 'rate'), m(vip, 'rate')];
  const us = (x) => (Number.isFinite(x) ? x.toFixed(1) : '-');
  const per = s.unit === 'calls/s' ? 'call' : 'msg';
  rows.push({
    scenario: s.name,
    what: s.base[0],
    rate: `${formatRate(b)} ${s.unit}`,
    vs: '',
    cpu: us(m(base, 'cpuUs')),
    broker: us(m(base, 'brokerUs')),
    platform: '-',
    per,
  });
  rows.push({
    scenario: '',
    what: s.vip[0],
    rate: `${formatRate(v)} ${s.unit}`,
    vs: `${(ratio(v, b) * 100).toFixed(0)} % of raw`,
    cpu: us(m(vip, 'cpuUs')),
    broker: us(m(vip, 'brokerUs')),
    platform: us(m(vip, 'platformUs')),
    per,
  });
  const round1 = (x) => (Number.isFinite(x) ? Number(x.toFixed(1)) : null);
  json[s.name.replaceAll('-', '_')] = {
    unit: s.unit,
    raw: Math.round(b),
    vip: Math.round(v),
    ratio: Number(ratio(v, b).toFixed(3)),
    cpu_us: { raw: round1(m(base, 'cpuUs')), vip: round1(m(vip, 'cpuUs')) },
    broker_us: { raw: round1(m(base, 'brokerUs')), vip: round1(m(vip, 'brokerUs')) },
    platform_us: round1(m(vip, 'platformUs')),
    runs: { raw: base.map((r) => Math.round(r.rate)), vip: vip.map((r) => Math.round(r.rate)) },
  };
}
console.log(
  `payload ${o.payload} B, ${o.calls} calls / ${o.messages} messages per run, median of ${o.runs}; router ${json.platform}; write batching ${o['batch-writes'] ? 'on' : 'off'}`,
);
console.log(
  formatTable(rows, [
    { key: 'scenario', title: 'scenario', align: 'left' },
    { key: 'what', title: 'what', align: 'left' },
    { key: 'rate', title: 'rate', align: 'right' },
    { key: 'vs', title: 'vs baseline', align: 'right' },
    { key: 'cpu', title: 'bench CPU µs', align: 'right' },
    { key: 'broker', title: 'broker CPU µs', align: 'right' },
    { key: 'platform', title: 'platform CPU µs', align: 'right' },
    { key: 'per', title: 'per', align: 'left' },
  ]),
);
console.log(JSON.stringify({ bench: 'rmq', ...json }));
