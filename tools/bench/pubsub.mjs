#!/usr/bin/env node
// PubSub through the platform app (apps/platform/dist/main.js, tcp + CURVE), every party in its own
// process, each figure next to a raw zeromq.js baseline measured in the same run:
//   a1  1 publisher -> 1 subscriber, publisher not waiting for acks (window of --window unacked)
//   a2  1 publisher -> 1 subscriber, publisher waiting for each ack (request_response)
//   b   1 publisher -> 10 subscribers (fan-out), not waiting
//   c   like a1 while other agents hold 10 vs 10,000 distinct subscriptions (publish cost)
// Baselines: raw zeromq.js XPUB -> SUB (a1, b, c) and DEALER -> ROUTER request/ack (a2): the
// ceiling of zeromq.js on this machine (2 frames, no router hop). And, for a1/a2/b, a bare
// zeromq.js ROUTER (tools/bench/lib/bare-pubsub-router.mjs) answering the same VIP frames, same
// sizes, same CURVE, with no parsing or bookkeeping, between the same raw VIP clients: vip/bare
// is what our platform and clients add over the protocol's own frames and hop.
// --clients raw (default): the vip publisher and subscribers are zeromq.js DEALERs speaking VIP
// frames (the platform's cost alone); --clients agent: they are @vip/agent agents
// (`pubsub.publish`, `pubsub.subscribe` callbacks).
// Targets are decided only from this run's own measurements (c: 10,000 vs 10 subscriptions, both
// through the platform). VOLTTRON's figures, measured apart, are printed as context
// (tools/bench/lib/context.mjs), never as a verdict.
// CPU per delivered message (us) of the platform, publisher and subscriber processes is reported
// (/proc for the platform, each client measures itself over its timed part), so the process that
// limits the rate shows; a busy shared machine inflates it (cold caches), less than the rates.
// Build first: `npm run build`. Prints a table and one JSON line. The same file is the child
// process of each role (env VIP_BENCH_ROLE), so `node tools/bench/run.mjs` sees one benchmark.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { curveKeyPair, Dealer, Router, Subscriber, XPublisher } from 'zeromq';
import { parseBenchArgs } from './lib/args.mjs';
import { printContext, pubsubContext, VOLTTRON_9_0_4 } from './lib/context.mjs';
import { cpuTimeMs, startChild } from './lib/processes.mjs';
import { formatRate, median, ratio } from './lib/stats.mjs';
import { formatTable } from './lib/table.mjs';
import { promiseWindow } from './lib/window.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const self = fileURLToPath(import.meta.url);
// Another build (A/B on the same machine state): BENCH_PLATFORM_MAIN=<dir>/apps/platform/dist/main.js
// BENCH_AGENT_ZMQ=<dir>/packages/agent/dist/zmq.js (children inherit the environment).
const platformMain = process.env.BENCH_PLATFORM_MAIN ?? join(root, 'apps/platform/dist/main.js');
const agentZmq = process.env.BENCH_AGENT_ZMQ ?? join(root, 'packages/agent/dist/zmq.js');
let curveOn = true;

// ------------------------------------------------------------------------------------ driver

const cpuText = (c, digits = 1) => `platform ${fmt(c.platform, digits)}, pub ${fmt(c.publisher, digits)}, sub ${fmt(c.subscriber, digits)}`;
const fmt = (x, digits) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');

async function main() {
  const o = parseBenchArgs(
    {
      messages: { type: 'number', default: 50000, help: 'messages per scenario (a2 uses a tenth)' },
      payload: { type: 'number', default: 16, help: 'message size (bytes of the JSON string message)' },
      window: { type: 'number', default: 1000, help: 'unacknowledged publishes allowed when not waiting' },
      runs: { type: 'number', default: 1, help: 'runs per scenario (median reported)' },
      scenarios: { type: 'string', default: 'a1,a2,b,c', help: 'comma list of a1,a2,b,c' },
      'time-limit': { type: 'number', default: 120, help: 'seconds per run before it is abandoned' },
      curve: { type: 'string', default: 'true', help: 'true: CURVE on every socket (platform default), false: plain tcp' },
      clients: {
        type: 'string',
        default: 'raw',
        help: 'raw: VIP frames from zeromq.js DEALERs; agent: @vip/agent publisher and subscribers',
      },
    },
    { usage: 'node tools/bench/pubsub.mjs [options]' },
  );
  if (o.clients !== 'raw' && o.clients !== 'agent') {
    process.stderr.write(`pubsub bench: --clients is raw or agent, not ${o.clients}\n`);
    process.exit(2);
  }
  if (o.clients === 'agent' && !existsSync(agentZmq)) {
    process.stderr.write(`pubsub bench: ${agentZmq} is missing: run \`npm run build\` first\n`);
    process.exit(2);
  }
  if (!existsSync(platformMain)) {
    process.stderr.write(`pubsub bench: ${platformMain} is missing: run \`npm run build\` first\n`);
    process.exit(2);
  }
  const wanted = new Set(o.scenarios.split(','));
  curveOn = o.curve !== 'false';
  const plan = [
    { key: 'a1', title: 'a1 1->1 not waiting', subs: 1, wait: false, holders: 0, n: o.messages },
    { key: 'a2', title: 'a2 1->1 waiting each ack', subs: 1, wait: true, holders: 0, n: Math.max(1000, Math.round(o.messages / 10)) },
    { key: 'b', title: 'b 1->10 fan-out', subs: 10, wait: false, holders: 0, n: Math.round(o.messages / 5) },
    { key: 'c10', scenario: 'c', title: 'c 10 other subscriptions', subs: 1, wait: false, holders: 10, n: o.messages },
    { key: 'c10k', scenario: 'c', title: 'c 10,000 other subscriptions', subs: 1, wait: false, holders: 10_000, n: o.messages },
  ].filter((s) => wanted.has(s.scenario ?? s.key));

  const rows = [];
  const json = {
    bench: 'pubsub',
    clients: o.clients,
    curve: o.curve !== 'false',
    messages: o.messages,
    payload: o.payload,
    window: o.window,
    runs: o.runs,
    scenarios: {},
  };
  let failures = 0;
  for (const s of plan) {
    const vip = [];
    const raw = [];
    const bare = [];
    const cpus = [];
    let drops = 0;
    for (let run = 0; run < o.runs; run++) {
      try {
        const r = await vipRun(s, o);
        vip.push(r.rate);
        cpus.push(r.cpuUs);
        drops += r.dropped;
        process.stderr.write(
          `${s.key} vip run ${run + 1}: ${formatRate(r.rate)} deliveries/s (${r.received}/${r.expected} delivered); CPU us/message: ${cpuText(r.cpuUs)}\n`,
        );
      } catch (err) {
        failures++;
        vip.push(NaN);
        process.stderr.write(`${s.key} vip run ${run + 1} failed: ${err instanceof Error ? err.message : String(err)}\n`);
      }
      if (s.holders === 0) {
        try {
          const r = await vipRun(s, o, true);
          bare.push(r.rate);
          process.stderr.write(
            `${s.key} bare router run ${run + 1}: ${formatRate(r.rate)} deliveries/s (${r.received}/${r.expected} delivered); CPU us/message: ${cpuText(r.cpuUs)}\n`,
          );
        } catch (err) {
          failures++;
          bare.push(NaN);
          process.stderr.write(`${s.key} bare router run ${run + 1} failed: ${err instanceof Error ? err.message : String(err)}\n`);
        }
      }
      try {
        const r = await rawRun(s, o);
        raw.push(r.rate);
        process.stderr.write(`${s.key} raw run ${run + 1}: ${formatRate(r.rate)} deliveries/s\n`);
      } catch (err) {
        failures++;
        raw.push(NaN);
        process.stderr.write(`${s.key} raw run ${run + 1} failed: ${err instanceof Error ? err.message : String(err)}\n`);
      }
    }
    const v = median(vip);
    const b = median(raw);
    const cpu = Object.fromEntries(['platform', 'publisher', 'subscriber'].map((k) => [k, median(cpus.map((c) => c[k]))]));
    const bb = bare.length > 0 ? median(bare) : NaN;
    json.scenarios[s.key] = { vip, bare, raw, vipMedian: v, bareMedian: bb, rawMedian: b, notDelivered: drops, cpuUsPerMessage: cpu };
    rows.push({
      scenario: s.title,
      vip: formatRate(v),
      raw: formatRate(b),
      ratio: ratio(v, b).toFixed(2),
      bare: Number.isFinite(bb) ? formatRate(bb) : '',
      bareRatio: Number.isFinite(bb) ? ratio(v, bb).toFixed(2) : '',
      lost: String(drops),
      cpu: cpuText(cpu, 1),
    });
  }
  console.log(
    `pubsub over tcp${curveOn ? ' + CURVE' : ' (no CURVE)'} through the platform app, ${o.clients === 'agent' ? '@vip/agent' : 'raw VIP DEALER'} clients, ${o.payload} B messages, window ${o.window}; rates are deliveries/s at the subscribers (median of ${o.runs})`,
  );
  console.log(
    formatTable(rows, [
      { key: 'scenario', title: 'scenario', align: 'left' },
      { key: 'vip', title: 'vip' },
      { key: 'raw', title: 'raw zeromq.js' },
      { key: 'ratio', title: 'vip/raw' },
      { key: 'bare', title: 'bare router' },
      { key: 'bareRatio', title: 'vip/bare' },
      { key: 'lost', title: 'not delivered' },
      { key: 'cpu', title: 'CPU us/message', align: 'left' },
    ]),
  );
  // Only same-run figures decide. (The earlier a1/a2 targets, 10x VOLTTRON's Python-agent
  // figures, compared raw clients here with Python agents there: withdrawn, see BENCHMARKS.md.)
  const targets = [];
  if (json.scenarios.c10 && json.scenarios.c10k) {
    const r = json.scenarios.c10k.vipMedian / json.scenarios.c10.vipMedian;
    json.c_ratio = r;
    targets.push(`c 10,000 vs 10 subscriptions = ${r.toFixed(2)} (target >= 0.8): ${r >= 0.8 ? 'met' : 'NOT met'}`);
  }
  for (const t of targets) console.log(`target: ${t}`);
  if (json.scenarios.a1 || json.scenarios.a2) {
    printContext(pubsubContext());
    json.context = VOLTTRON_9_0_4;
  }
  console.log(JSON.stringify(json));
  process.exit(failures > 0 ? 1 : 0);
}

async function startPlatform() {
  const home = await mkdtemp(join(tmpdir(), 'vip-bench-pubsub-'));
  const args = ['--vip-address', 'tcp://127.0.0.1:0', '--vip-home', home, '--log-level', 'warn', '--allow-auth', String(curveOn)];
  const child = startChild('platform', platformMain, args);
  try {
    const ready = await child.line((l) => l.event === 'ready', 20_000);
    const pair = curveOn ? JSON.parse(await readFile(join(home, 'keystore'), 'utf8')) : { public: '', secret: '' };
    return {
      pid: child.pid,
      env: {
        ...process.env,
        BENCH_ADDRESS: ready.addresses.find((a) => a.startsWith('tcp://')),
        BENCH_SERVERKEY: ready.serverkey ?? '',
        BENCH_PUBLICKEY: pair.public,
        BENCH_SECRETKEY: pair.secret,
      },
      async stop() {
        await child.stop();
        await rm(home, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await child.stop();
    await rm(home, { recursive: true, force: true });
    throw err;
  }
}

async function startBareRouter() {
  const child = startChild('bare-router', join(root, 'tools/bench/lib/bare-pubsub-router.mjs'), [String(curveOn)]);
  const ready = await child.line((l) => l.event === 'ready');
  const mine = curveKeyPair();
  return {
    pid: child.pid,
    env: {
      ...process.env,
      BENCH_ADDRESS: ready.address,
      BENCH_SERVERKEY: ready.serverkey,
      BENCH_PUBLICKEY: mine.publicKey,
      BENCH_SECRETKEY: mine.secretKey,
    },
    stop: () => child.stop(),
  };
}

/** One run through the platform (or, `bare`, through the bare pubsub router with raw VIP clients). */
async function vipRun(s, o, bare = false) {
  const platform = bare ? await startBareRouter() : await startPlatform();
  const children = [];
  const spawnRole = (name, extra) => {
    const c = startChild(name, self, [], { env: { ...platform.env, ...extra } });
    children.push(c);
    return c;
  };
  try {
    const common = { BENCH_MESSAGES: String(s.n), BENCH_PAYLOAD: String(o.payload) };
    if (s.holders > 0) {
      const h = spawnRole('holder', { VIP_BENCH_ROLE: 'vip-holder', BENCH_PREFIXES: String(s.holders), ...common });
      await h.line((l) => l.event === 'holding', 60_000);
    }
    const agents = o.clients === 'agent' && !bare;
    const sub = spawnRole('subscriber', { VIP_BENCH_ROLE: agents ? 'agent-sub' : 'vip-sub', BENCH_SUBS: String(s.subs), ...common });
    await sub.line((l) => l.event === 'subscribed', 20_000);
    const pub = spawnRole('publisher', {
      VIP_BENCH_ROLE: agents ? 'agent-pub' : 'vip-pub',
      BENCH_WAIT: s.wait ? '1' : '0',
      BENCH_WINDOW: String(o.window),
      ...common,
    });
    // The platform's CPU from the first delivery to the last (as the subscriber's rate).
    await sub.line((l) => l.event === 'first', o['time-limit'] * 1000);
    const platform0 = cpuTimeMs(platform.pid);
    const result = await sub.line((l) => l.event === 'result', o['time-limit'] * 1000);
    const platformMs = cpuTimeMs(platform.pid) - platform0;
    const sent = await pub.line((l) => l.event === 'sent', 10_000);
    const cpuUs = {
      platform: (platformMs * 1000) / Math.max(1, result.received - 1),
      publisher: (sent.cpuMs * 1000) / Math.max(1, result.received),
      subscriber: (result.cpuMs * 1000) / Math.max(1, result.received - 1),
    };
    return { rate: result.rate, received: result.received, expected: s.n * s.subs, dropped: s.n * s.subs - result.received, cpuUs };
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    await platform.stop();
  }
}

async function rawRun(s, o) {
  const children = [];
  try {
    const pair = curveKeyPair();
    const keys = curveOn ? { BENCH_SERVERKEY: pair.publicKey, BENCH_SERVERSECRET: pair.secretKey } : { BENCH_SERVERKEY: '' };
    const common = { ...process.env, ...keys, BENCH_MESSAGES: String(s.n), BENCH_PAYLOAD: String(o.payload), BENCH_SUBS: String(s.subs) };
    if (s.wait) {
      const sub = startChild('raw-acker', self, [], { env: { ...common, VIP_BENCH_ROLE: 'raw-acker' } });
      children.push(sub);
      const ready = await sub.line((l) => l.event === 'ready');
      const pub = startChild('raw-requester', self, [], {
        env: { ...common, VIP_BENCH_ROLE: 'raw-requester', BENCH_ADDRESS: ready.address },
      });
      children.push(pub);
      const result = await pub.line((l) => l.event === 'result', o['time-limit'] * 1000);
      return { rate: result.rate };
    }
    const pub = startChild('raw-pub', self, [], { env: { ...common, VIP_BENCH_ROLE: 'raw-pub' } });
    children.push(pub);
    const ready = await pub.line((l) => l.event === 'ready');
    const sub = startChild('raw-sub', self, [], { env: { ...common, VIP_BENCH_ROLE: 'raw-sub', BENCH_ADDRESS: ready.address } });
    children.push(sub);
    const result = await sub.line((l) => l.event === 'result', o['time-limit'] * 1000);
    return { rate: result.rate };
  } finally {
    await Promise.all(children.map((c) => c.stop()));
  }
}

// ------------------------------------------------------------------------------------ roles

async function runRole(name) {
  const env = process.env;
  const n = Number(env.BENCH_MESSAGES ?? 10000);
  const message = JSON.stringify('x'.repeat(Math.max(0, Number(env.BENCH_PAYLOAD ?? 16) - 2)));
  const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
  switch (name) {
    case 'vip-holder':
      return vipHolder(Number(env.BENCH_PREFIXES), out);
    case 'vip-sub':
      return vipSubscribers(Number(env.BENCH_SUBS ?? 1), n, out);
    case 'vip-pub':
      return vipPublisher(n, env.BENCH_WAIT === '1', Number(env.BENCH_WINDOW ?? 1000), message, out);
    case 'agent-sub':
      return agentSubscribers(Number(env.BENCH_SUBS ?? 1), n, out);
    case 'agent-pub':
      return agentPublisher(n, env.BENCH_WAIT === '1', Number(env.BENCH_WINDOW ?? 1000), JSON.parse(message), out);
    case 'raw-pub':
      return rawPublisher(n, Number(env.BENCH_SUBS ?? 1), message, out);
    case 'raw-sub':
      return rawSubscribers(Number(env.BENCH_SUBS ?? 1), n, out);
    case 'raw-acker':
      return rawAcker(n, out);
    case 'raw-requester':
      return rawRequester(n, message, out);
    default:
      throw new Error(`unknown role ${name}`);
  }
}

/** CURVE options for a raw baseline socket: server side holds the run's key pair, clients a fresh one. */
function rawCurve(server) {
  const k = process.env.BENCH_SERVERKEY;
  if (!k) return {};
  if (server) return { curveServer: true, curveSecretKey: process.env.BENCH_SERVERSECRET, curvePublicKey: k };
  const mine = curveKeyPair();
  return { curveServerKey: k, curvePublicKey: mine.publicKey, curveSecretKey: mine.secretKey };
}

/** A DEALER speaking VIP to the platform with the platform's own CURVE keys (admitted by auth.json). */
function vipSocket(identity) {
  const key = (text) => (text.length === 40 ? text : Buffer.from(text, 'base64url'));
  const s = new Dealer({
    routingId: identity,
    sendHighWaterMark: 6000,
    receiveHighWaterMark: 6000,
    linger: 0,
    ...(process.env.BENCH_SERVERKEY
      ? {
          curveServerKey: key(process.env.BENCH_SERVERKEY),
          curvePublicKey: key(process.env.BENCH_PUBLICKEY),
          curveSecretKey: key(process.env.BENCH_SECRETKEY),
        }
      : {}),
  });
  s.connect(process.env.BENCH_ADDRESS);
  process.once('SIGTERM', () => s.close());
  return s;
}

/**
 * Counts deliveries across sockets; when nothing arrives for 3 s after the first message (the
 * rest was not delivered), closes the sockets so the receive loops end.
 */
function counter(sockets, out) {
  const c = { received: 0, first: 0, last: 0, cpuFirst: undefined, cpuLast: undefined };
  const watchdog = setInterval(() => {
    if (c.received > 0 && performance.now() - c.last > 3000) for (const s of sockets) s.close();
  }, 250);
  return Object.assign(c, {
    hit() {
      c.last = performance.now();
      if (c.received++ === 0) {
        c.first = c.last;
        c.cpuFirst = process.cpuUsage();
        out({ event: 'first' });
      }
    },
    stop() {
      clearInterval(watchdog);
      const d = process.cpuUsage(c.cpuFirst);
      c.cpuMs = (d.user + d.system) / 1000;
    },
  });
}

/** The result line of a subscriber process: rate from the first to the last delivery, CPU over the same span. */
function subscriberResult(t, expected) {
  const { received, first, last, cpuMs } = t;
  const elapsed = last - first;
  return { event: 'result', received, expected, elapsedMs: elapsed, rate: received > 1 ? ((received - 1) / elapsed) * 1000 : NaN, cpuMs };
}

const pubsubFrames = (id, ...args) => ['', 'VIP1', '', id, 'pubsub', ...args];

/** Send one request and wait for its reply (by message id), retrying while the connection comes up. */
async function request(socket, id, args) {
  await socket.send(pubsubFrames(id, ...args));
  for await (const f of socket) if (String(f[3]) === id) return f;
  throw new Error('socket closed');
}

async function vipHolder(count, out) {
  // Several agents hold `count` distinct prefixes that never match the benchmark topic.
  const agents = Math.min(10, count);
  const sockets = [];
  for (let a = 0; a < agents; a++) {
    const socket = vipSocket(`holder.${a}`);
    sockets.push(socket);
    const prefixes = [];
    for (let i = a; i < count; i += agents) prefixes.push(`devices/campus/building${i}/unit/point`);
    await request(socket, `h${a}`, ['subscribe', JSON.stringify({ prefix: prefixes, bus: '', all_platforms: false })]);
  }
  out({ event: 'holding', prefixes: count, agents });
  await new Promise((resolve) => process.once('SIGTERM', resolve));
  for (const s of sockets) s.close();
}

async function vipSubscribers(count, n, out) {
  const slowMs = Number(process.env.BENCH_SLOW_MS ?? 0);
  const sockets = [];
  for (let i = 0; i < count; i++) {
    const socket = vipSocket(`${process.env.BENCH_SUB_NAME ?? 'bench.sub'}.${i}`);
    sockets.push(socket);
    await request(socket, `s${i}`, ['subscribe', JSON.stringify({ prefix: 'devices/campus/bench', bus: '', all_platforms: false })]);
  }
  out({ event: 'subscribed', count });
  const expected = n * count;
  const t = counter(sockets, out);
  await Promise.all(
    sockets.map(async (socket) => {
      let mine = 0;
      for await (const f of socket) {
        if (String(f[4]) !== 'pubsub' || String(f[5]) !== 'publish') continue;
        t.hit();
        if (++mine >= n) break;
        if (slowMs > 0 && mine % 100 === 0) await new Promise((r) => setTimeout(r, slowMs)); // a subscriber that cannot keep up
      }
    }),
  );
  t.stop();
  out(subscriberResult(t, expected));
  for (const s of sockets) s.close();
}

async function vipPublisher(n, wait, window, message, out) {
  const socket = vipSocket('bench.pub');
  // formatted as a Python (and our) agent writes it: json.dumps separators
  const body = `{"bus": "", "headers": {"min_compatible_version": "3.0", "max_compatible_version": ""}, "message": ${message}}`;
  await request(socket, 'hello', [
    'list',
    JSON.stringify({ prefix: '', subscribed: false, reverse: false, bus: '', all_platforms: false }),
  ]);
  let acked = 0;
  let errors = 0;
  let wake;
  const reader = (async () => {
    for await (const f of socket) {
      if (String(f[4]) === 'error')
        errors++; // e.g. error 11 for a subscriber that could not keep up
      else if (String(f[5]) === 'request_response') acked++;
      wake?.();
      if (acked >= n) return;
    }
  })();
  const waitAck = () =>
    new Promise((r) => {
      const t = setTimeout(r, 1000);
      wake = () => {
        clearTimeout(t);
        wake = undefined;
        r();
      };
    });
  const limit = wait ? 1 : window;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    while (i - acked >= limit) await waitAck();
    await socket.send(pubsubFrames(`p${i}`, 'publish', 'devices/campus/bench/point', body));
  }
  await reader;
  out({ event: 'sent', messages: n, errors, cpuMs: cpuMsSince(cpu0) });
  socket.close();
}

const cpuMsSince = (start) => {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
};

/** An @vip/agent on the platform's own key pair (admitted by its auth.json), pubsub on. */
async function benchAgent(identity, pubsub = {}) {
  const { createZmqAgent } = await import(agentZmq);
  const env = process.env;
  const agent = await createZmqAgent({
    identity,
    pubsub,
    address: env.BENCH_ADDRESS,
    vipHome: tmpdir(),
    ...(env.BENCH_SERVERKEY ? { serverKey: env.BENCH_SERVERKEY, publicKey: env.BENCH_PUBLICKEY, secretKey: env.BENCH_SECRETKEY } : {}),
  });
  await agent.start();
  return agent;
}

async function agentSubscribers(count, n, out) {
  const agents = [];
  for (let i = 0; i < count; i++) agents.push(await benchAgent(`${process.env.BENCH_SUB_NAME ?? 'bench.sub'}.${i}`));
  const done = [];
  // The counter's watchdog closes what it is given when deliveries stop: here, ends the waits.
  const ends = agents.map(() => {
    let end;
    done.push(new Promise((r) => (end = r)));
    return { close: () => end() };
  });
  const t = counter(ends, out);
  for (const [i, agent] of agents.entries()) {
    let mine = 0;
    await agent.pubsub.subscribe('devices/campus/bench', () => {
      t.hit();
      if (++mine === n) ends[i].close();
    });
  }
  out({ event: 'subscribed', count });
  await Promise.all(done);
  t.stop();
  out(subscriberResult(t, n * count));
  await Promise.all(agents.map((a) => a.close()));
}

async function agentPublisher(n, wait, window, message, out) {
  // publishNoWait paces itself: at most `window` publishes without their ack, like the raw publisher.
  const agent = await benchAgent('bench.pub', { noWaitWindow: window });
  let errors = 0;
  const topic = 'devices/campus/bench/point';
  const cpu0 = process.cpuUsage();
  if (wait) {
    for (let i = 0; i < n; i++) await agent.pubsub.publish(topic, { message }).catch(() => errors++);
  } else if (typeof agent.pubsub.publishNoWait === 'function') {
    for (let i = 0; i < n; i++) await agent.pubsub.publishNoWait(topic, { message });
    const deadline = performance.now() + 10_000;
    while (agent.pubsub.stats().unacked > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 1));
    errors = agent.pubsub.stats().errors;
  } else {
    // An agent build without publishNoWait (A/B against an older build): `publish` promises, not
    // awaited one by one, at most `window` of them unsettled.
    const pending = promiseWindow(window);
    for (let i = 0; i < n; i++) {
      const full = pending.add(agent.pubsub.publish(topic, { message }).catch(() => void errors++));
      if (full) await full;
    }
    await pending.drain();
  }
  const cpuMs = cpuMsSince(cpu0);
  await agent.close();
  out({ event: 'sent', messages: n, errors, cpuMs });
}

async function rawPublisher(n, subs, message, out) {
  const pub = new XPublisher({ sendHighWaterMark: 6000, linger: 0, verbosity: 'allSubs', ...rawCurve(true) });
  await pub.bind('tcp://127.0.0.1:0');
  out({ event: 'ready', address: pub.lastEndpoint });
  let joined = 0;
  for await (const [m] of pub) if (m[0] === 1 && ++joined >= subs) break; // wait for every subscription
  const topic = Buffer.from('devices/campus/bench/point');
  for (let i = 0; i < n; i++) await pub.send([topic, message]);
  await new Promise((resolve) => process.once('SIGTERM', resolve));
  pub.close();
}

async function rawSubscribers(count, n, out) {
  const sockets = [];
  for (let i = 0; i < count; i++) {
    const s = new Subscriber({ receiveHighWaterMark: 6000, linger: 0, ...rawCurve(false) });
    s.connect(process.env.BENCH_ADDRESS);
    s.subscribe('devices/campus/bench');
    sockets.push(s);
  }
  const t = counter(sockets, () => {});
  await Promise.all(
    sockets.map(async (socket) => {
      let mine = 0;
      for await (const _ of socket) {
        t.hit();
        if (++mine >= n) break;
      }
    }),
  );
  t.stop();
  const { received, first, last } = t;
  out({ event: 'result', received, rate: received > 1 ? ((received - 1) / (last - first)) * 1000 : NaN });
  for (const s of sockets) s.close();
}

async function rawAcker(n, out) {
  const router = new Router({ linger: 0, ...rawCurve(true) });
  await router.bind('tcp://127.0.0.1:0');
  out({ event: 'ready', address: router.lastEndpoint });
  let count = 0;
  for await (const [peer, , id] of router) {
    await router.send([peer, '', id]);
    if (++count >= n) break;
  }
  await new Promise((resolve) => process.once('SIGTERM', resolve));
  router.close();
}

async function rawRequester(n, message, out) {
  const dealer = new Dealer({ linger: 0, ...rawCurve(false) });
  dealer.connect(process.env.BENCH_ADDRESS);
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    await dealer.send(['', String(i), message]);
    await dealer.receive();
  }
  out({ event: 'result', received: n, rate: (n / (performance.now() - start)) * 1000 });
  dealer.close();
}

// Last, so every declaration above is initialised before a role runs.
const role = process.env.VIP_BENCH_ROLE;
if (role) {
  // Profiling (BENCH_NODE_ARGS=--cpu-prof...): a stopped child exits cleanly, so it writes its profile.
  if (process.env.BENCH_NODE_ARGS) process.once('SIGTERM', () => process.exit(0));
  await runRole(role);
  process.exit(0); // a role is done: do not wait for lingering handles (and let --cpu-prof write its profile)
} else await main();
