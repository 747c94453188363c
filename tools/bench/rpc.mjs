#!/usr/bin/env node
// Sequential RPC round trips over tcp + CURVE, caller and callee in their own processes:
//   bare  a zeromq.js DEALER request/reply through a bare ROUTER forwarder (tools/bench/lib/bare-forwarder.mjs)
//   vip   @vip/agent `rpc.call(peer, 'echo', payload)` through our platform app (apps/platform/dist/main.js)
// Reference: a real VOLTTRON 9 platform on this machine does ~1,014 calls/s, median 943 us, p99 ~1.5 ms.
// Target: vip p50 within 1.3 x the bare round trip of the same run.
// Build first: `npm run build`. Prints a table (median of --runs) and one JSON line.
// The same file runs the child roles (`--role ...`), so tools/bench/run.mjs sees one benchmark.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBenchArgs } from './lib/args.mjs';
import { startChild } from './lib/processes.mjs';
import { median, ratio } from './lib/stats.mjs';
import { formatTable } from './lib/table.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const self = fileURLToPath(import.meta.url);
const platformMain = join(root, 'apps/platform/dist/main.js');
const agentZmq = join(root, 'packages/agent/dist/zmq.js');
const TARGET = 1.3;

const o = parseBenchArgs(
  {
    calls: { type: 'number', default: 5000, help: 'timed calls per run (after --warmup)' },
    warmup: { type: 'number', default: 500, help: 'untimed calls first' },
    runs: { type: 'number', default: 3, help: 'runs per mode (the median is reported)' },
    payload: { type: 'number', default: 16, help: 'payload string length' },
    role: { type: 'string', default: 'bench', help: 'internal: bench | bare-server | bare-client | vip-server | vip-client' },
    address: { type: 'string', default: '', help: 'internal' },
    serverkey: { type: 'string', default: '', help: 'internal' },
    publickey: { type: 'string', default: '', help: 'internal' },
    secretkey: { type: 'string', default: '', help: 'internal' },
  },
  { usage: 'node tools/bench/rpc.mjs [--calls N] [--warmup N] [--runs N] [--payload BYTES]' },
);

const emit = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);

/** Latency summary of one caller run (ns samples). */
function summarize(samplesNs, elapsedNs) {
  const sorted = [...samplesNs].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] / 1000;
  return { event: 'result', calls: sorted.length, rate: sorted.length / (elapsedNs / 1e9), p50us: at(0.5), p99us: at(0.99) };
}

async function timedLoop(call) {
  for (let i = 0; i < o.warmup; i++) await call();
  const samples = [];
  const start = process.hrtime.bigint();
  for (let i = 0; i < o.calls; i++) {
    const t0 = process.hrtime.bigint();
    await call();
    samples.push(Number(process.hrtime.bigint() - t0));
  }
  return summarize(samples, Number(process.hrtime.bigint() - start));
}

// ---- child roles -------------------------------------------------------------------------------

async function bareDealer(identity) {
  const { Dealer, curveKeyPair } = await import('zeromq');
  const keys = curveKeyPair();
  const socket = new Dealer({ routingId: identity, curveServerKey: o.serverkey, curvePublicKey: keys.publicKey, curveSecretKey: keys.secretKey, immediate: true });
  socket.connect(o.address);
  return socket;
}

async function bareServer() {
  const socket = await bareDealer('bench.srv');
  emit({ event: 'ready' });
  process.once('SIGTERM', () => socket.close());
  for await (const [from, payload] of socket) await socket.send([from, payload]);
}

async function bareClient() {
  const socket = await bareDealer('bench.cli');
  const payload = Buffer.from('x'.repeat(o.payload));
  const call = async () => {
    await socket.send(['bench.srv', payload]);
    await socket.receive();
  };
  emit(await timedLoop(call));
  socket.close();
}

async function vipAgent(identity) {
  const { createZmqAgent } = await import(agentZmq);
  return createZmqAgent({
    identity,
    address: o.address,
    serverKey: o.serverkey,
    publicKey: o.publickey,
    secretKey: o.secretkey,
    vipHome: tmpdir(),
    pubsub: false,
  });
}

async function vipServer() {
  const agent = await vipAgent('bench.srv');
  agent.rpc.export('echo', (x) => x);
  await agent.start();
  emit({ event: 'ready' });
  await new Promise((resolve) => process.once('SIGTERM', resolve));
  await agent.close();
}

async function vipClient() {
  const agent = await vipAgent('bench.cli');
  await agent.start();
  const payload = 'x'.repeat(o.payload);
  emit(await timedLoop(() => agent.rpc.call('bench.srv', 'echo', payload)));
  await agent.close();
}

// ---- orchestration -----------------------------------------------------------------------------

async function startRouter(mode) {
  if (mode === 'bare') {
    const child = startChild('forwarder', join(root, 'tools/bench/lib/bare-forwarder.mjs'));
    const ready = await child.line((l) => l.event === 'ready');
    return { address: ready.addresses[0], serverkey: ready.serverkey, keys: [], stop: () => child.stop() };
  }
  const home = await mkdtemp(join(tmpdir(), 'vip-bench-rpc-'));
  const child = startChild('platform', platformMain, ['--vip-address', 'tcp://127.0.0.1:0', '--vip-home', home, '--log-level', 'warn']);
  const stop = async () => {
    await child.stop();
    await rm(home, { recursive: true, force: true });
  };
  try {
    const ready = await child.line((l) => l.event === 'ready', 20_000);
    // The platform admits its own key on first start: both agents use it.
    const pair = JSON.parse(await readFile(join(home, 'keystore'), 'utf8'));
    return {
      address: ready.addresses.find((a) => a.startsWith('tcp://')),
      serverkey: ready.serverkey,
      keys: ['--publickey', pair.public, '--secretkey', pair.secret],
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function runOnce(mode) {
  const router = await startRouter(mode);
  const children = [];
  try {
    const common = ['--address', router.address, '--serverkey', router.serverkey, ...router.keys, '--calls', String(o.calls), '--warmup', String(o.warmup), '--payload', String(o.payload)];
    const server = startChild('server', self, ['--role', `${mode}-server`, ...common]);
    children.push(server);
    await server.line((l) => l.event === 'ready', 20_000);
    const client = startChild('client', self, ['--role', `${mode}-client`, ...common]);
    children.push(client);
    return await client.line((l) => l.event === 'result', 300_000);
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    await router.stop();
  }
}

async function bench() {
  for (const [path, what] of [[platformMain, 'the platform app'], [agentZmq, '@vip/agent']]) {
    if (!existsSync(path)) {
      process.stderr.write(`rpc bench: ${path} (${what}) is missing: run \`npm run build\` first\n`);
      process.exit(2);
    }
  }
  const results = { bare: [], vip: [] };
  let failures = 0;
  for (let run = 1; run <= o.runs; run++) {
    for (const mode of ['bare', 'vip']) {
      try {
        const r = await runOnce(mode);
        results[mode].push(r);
        process.stderr.write(`run ${run} ${mode}: ${Math.round(r.rate)} calls/s, p50 ${r.p50us.toFixed(0)} us, p99 ${r.p99us.toFixed(0)} us\n`);
      } catch (err) {
        failures++;
        process.stderr.write(`run ${run} ${mode} failed: ${err instanceof Error ? err.message : String(err)}\n`);
      }
    }
  }
  const agg = (mode) => ({
    rate: median(results[mode].map((r) => r.rate)),
    p50us: median(results[mode].map((r) => r.p50us)),
    p99us: median(results[mode].map((r) => r.p99us)),
  });
  const bare = agg('bare');
  const vip = agg('vip');
  const fmt = (n, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
  const rows = [
    { what: 'bare zeromq.js req/rep via ROUTER', rate: fmt(bare.rate), p50: fmt(bare.p50us), p99: fmt(bare.p99us), ratio: '1.00' },
    { what: 'vip rpc.call via platform', rate: fmt(vip.rate), p50: fmt(vip.p50us), p99: fmt(vip.p99us), ratio: fmt(ratio(vip.p50us, bare.p50us), 2) },
    { what: 'VOLTTRON 9.0.4 (transcripts README)', rate: '1014', p50: '943', p99: '~1500', ratio: '' },
  ];
  console.log(`sequential RPC over tcp + CURVE: ${o.calls} calls (+${o.warmup} warmup), payload ${o.payload} B, median of ${o.runs} runs`);
  console.log(formatTable(rows, [
    { key: 'what', title: 'round trip', align: 'left' },
    { key: 'rate', title: 'calls/s' },
    { key: 'p50', title: 'p50 us' },
    { key: 'p99', title: 'p99 us' },
    { key: 'ratio', title: 'p50 vs bare' },
  ]));
  const r = ratio(vip.p50us, bare.p50us);
  console.log(`target: vip p50 <= ${TARGET} x bare p50: ${Number.isFinite(r) ? (r <= TARGET ? 'met' : 'NOT met') : 'n/a'}`);
  console.log(JSON.stringify({ bench: 'rpc', calls: o.calls, payload: o.payload, runs: o.runs, bare, vip, p50Ratio: r, target: TARGET }));
  process.exit(failures > 0 ? 1 : 0);
}

const roles = { 'bare-server': bareServer, 'bare-client': bareClient, 'vip-server': vipServer, 'vip-client': vipClient, bench };
const role = roles[o.role];
if (!role) {
  process.stderr.write(`unknown --role ${o.role}\n`);
  process.exit(2);
}
await role();
