#!/usr/bin/env node
// Multi-platform (issue 15): two platforms A and B (apps/platform/dist/main.js, tcp + CURVE),
// linked through external_platform_discovery.json (normal mode), and the same clients
// (@vip/agent, in this process) measured twice in the same run:
//   rpc      sequential `rpc.call` round trips: caller and callee both on A (single), then caller
//            on A and callee on B (`onPlatform('B')`: external_rpc over the link both ways)
//   pubsub   publishes from A acknowledged one by one (publish waits for the router's count)
//            to one subscriber: on A (single), then on B (all_platforms, over the link)
// Target (issue 15): cross-platform >= 0.5 x single-platform, for both.
// Build first: `npm run build`. Prints a table and one JSON line.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBenchArgs } from './lib/args.mjs';
import { startChild } from './lib/processes.mjs';
import { median, timeSequentialCalls } from './lib/stats.mjs';
import { formatTable } from './lib/table.mjs';
import { freePort } from './lib/free-port.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const platformMain = process.env.BENCH_PLATFORM_MAIN ?? join(root, 'apps/platform/dist/main.js');
const agentZmq = process.env.BENCH_AGENT_ZMQ ?? join(root, 'packages/agent/dist/zmq.js');
const agentMain = join(root, 'packages/agent/dist/index.js');
const TARGET = 0.5;

const o = parseBenchArgs(
  {
    calls: { type: 'number', default: 3000, help: 'timed RPC calls per run (after --warmup)' },
    publishes: { type: 'number', default: 5000, help: 'publishes per pubsub run' },
    warmup: { type: 'number', default: 300, help: 'untimed calls/publishes first' },
    runs: { type: 'number', default: 3, help: 'runs per case (the median is reported)' },
    payload: { type: 'number', default: 16, help: 'payload string length' },
  },
  { usage: 'node tools/bench/multiplatform.mjs [--calls N] [--publishes N] [--runs N]' },
);

const { createZmqAgent } = await import(agentZmq);
const { onPlatform } = await import(agentMain);

async function startPlatform(name, home, port) {
  const child = startChild(`platform ${name}`, platformMain, [
    '--vip-home',
    home,
    '--vip-address',
    `tcp://127.0.0.1:${port}`,
    '--instance-name',
    name,
    '--log-level',
    'warn',
    '--pubsub-restore-grace',
    '0',
  ]);
  const ready = await child.line((l) => l.event === 'ready', 20_000);
  return { child, ready, home, name, address: `tcp://127.0.0.1:${port}` };
}

/** Two platforms, each listing the other in its discovery file (as setup mode writes it), started twice: keys first, then linked. */
async function linkedPair() {
  const sites = [];
  for (const name of ['A', 'B'])
    sites.push({ name, home: await mkdtemp(join(tmpdir(), `vip-bench-multi-${name}-`)), port: await freePort() });
  const keys = {};
  for (const s of sites) {
    const p = await startPlatform(s.name, s.home, s.port);
    keys[s.name] = p.ready.serverkey;
    await p.child.stop();
  }
  for (const s of sites) {
    const other = sites.find((x) => x !== s);
    await writeFile(
      join(s.home, 'external_platform_discovery.json'),
      JSON.stringify({
        [other.name]: { 'instance-name': other.name, 'vip-address': `tcp://127.0.0.1:${other.port}`, serverkey: keys[other.name] },
      }),
    );
  }
  const running = [];
  for (const s of sites) running.push(await startPlatform(s.name, s.home, s.port));
  return running;
}

async function agentOn(platform, identity) {
  const pair = JSON.parse(await readFile(join(platform.home, 'keystore'), 'utf8'));
  const agent = await createZmqAgent({
    identity,
    address: platform.address,
    serverKey: platform.ready.serverkey,
    publicKey: pair.public,
    secretKey: pair.secret,
    vipHome: tmpdir(),
  });
  await agent.start();
  return agent;
}

async function rpcRun(caller, callee, platform) {
  const payload = 'x'.repeat(o.payload);
  const call = platform
    ? () => caller.rpc.call(callee.identity, 'echo', payload, onPlatform(platform))
    : () => caller.rpc.call(callee.identity, 'echo', payload);
  return timeSequentialCalls(call, { warmup: o.warmup, calls: o.calls });
}

let topicRun = 0;
async function pubsubRun(publisher, subscriber, allPlatforms) {
  const topic = `bench/mp/${topicRun++}`;
  let got = 0;
  let done;
  const all = new Promise((resolve) => (done = resolve));
  const total = o.warmup + o.publishes;
  const message = 'x'.repeat(o.payload);
  await subscriber.pubsub.subscribe(
    topic,
    (_peer, _sender, _bus, _topic, _headers, m) => {
      if (m === message && ++got === total) done();
    },
    { allPlatforms },
  );
  // the subscription has to reach A (external_list) before publishes count it
  for (let i = 0; i < 200 && (await publisher.pubsub.publish(`${topic}/probe`, { message: 'p' })) < 1; i++)
    await new Promise((r) => setTimeout(r, 50));
  for (let i = 0; i < o.warmup; i++) await publisher.pubsub.publish(topic, { message });
  const start = process.hrtime.bigint();
  for (let i = 0; i < o.publishes; i++) await publisher.pubsub.publish(topic, { message });
  await Promise.race([all, new Promise((r) => setTimeout(r, 60_000))]);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await subscriber.pubsub.unsubscribe(topic, null, { allPlatforms });
  return { rate: o.publishes / seconds, delivered: got - o.warmup };
}

const [A, B] = await linkedPair();
try {
  const caller = await agentOn(A, 'bench.caller');
  const localSrv = await agentOn(A, 'bench.local');
  const remoteSrv = await agentOn(B, 'bench.remote');
  for (const a of [localSrv, remoteSrv]) a.rpc.export('echo', (x) => x);
  // wait for the link A -> B (and back: answers come on B's own link to A)
  for (let i = 0; ; i++) {
    try {
      await caller.rpc.call('bench.remote', 'echo', 'up', onPlatform('B'));
      break;
    } catch (err) {
      if (i > 100) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const rows = [];
  const result = {};
  for (const [name, run] of [
    ['rpc single (A->A)', () => rpcRun(caller, localSrv)],
    ['rpc cross (A->B)', () => rpcRun(caller, remoteSrv, 'B')],
    ['pubsub single (A->A)', () => pubsubRun(caller, localSrv, false)],
    ['pubsub cross (A->B)', () => pubsubRun(caller, remoteSrv, true)],
  ]) {
    const runs = [];
    for (let r = 0; r < o.runs; r++) runs.push(await run());
    const rate = median(runs.map((x) => x.rate));
    result[name] = {
      rate,
      ...(runs[0].p50us !== undefined
        ? { p50us: median(runs.map((x) => x.p50us)) }
        : { delivered: Math.min(...runs.map((x) => x.delivered)) }),
    };
    rows.push({
      name,
      rate: rate.toFixed(0),
      p50: runs[0].p50us !== undefined ? result[name].p50us.toFixed(0) : '',
      note: runs[0].delivered !== undefined ? `delivered ${result[name].delivered}/${o.publishes}` : '',
    });
  }
  const rpcRatio = result['rpc cross (A->B)'].rate / result['rpc single (A->A)'].rate;
  const pubsubRatio = result['pubsub cross (A->B)'].rate / result['pubsub single (A->A)'].rate;
  console.log(
    formatTable(rows, [
      { key: 'name', title: 'case', align: 'left' },
      { key: 'rate', title: 'per s' },
      { key: 'p50', title: 'p50 us' },
      { key: 'note', title: '', align: 'left' },
    ]),
  );
  console.log(`cross / single: rpc ${rpcRatio.toFixed(2)} x, pubsub ${pubsubRatio.toFixed(2)} x (target >= ${TARGET} x)`);
  console.log(JSON.stringify({ bench: 'multiplatform', ...result, rpcRatio, pubsubRatio, target: TARGET }));
  for (const a of [caller, localSrv, remoteSrv]) await a.close();
} finally {
  for (const p of [A, B]) {
    await p.child.stop();
    await rm(p.home, { recursive: true, force: true });
  }
}
process.exit(0);
