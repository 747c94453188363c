#!/usr/bin/env node
// Sequential RPC round trips over tcp + CURVE, caller and callee in their own processes:
//   bare      zeromq.js DEALERs exchanging the same frames as the agents (VIP envelope + JSON-RPC
//             body, same sizes) through a bare ROUTER forwarder (tools/bench/lib/bare-forwarder.mjs)
//   vip       @vip/agent `rpc.call(peer, 'echo', payload)` through our platform app (apps/platform/dist/main.js)
// Diagnostic modes (`--modes bare,bare-min,raw,vip`):
//   bare-min  the earlier baseline: 2-frame [peer, payload] request/reply via the bare forwarder
//             (fewer, smaller frames than any VIP message, so less CURVE and copy work per hop)
//   raw       the bare DEALERs through the platform app: raw - bare is the router's share,
//             vip - raw the agents'
// CPU per call (us) of the router, caller and callee processes is measured over the timed calls
// (from /proc; the caller measures itself): less exposed than latency to the load of the shared
// machine, not immune to it (a busy machine means cold caches, so more CPU per call).
// Target: vip p50 within 1.3 x the bare round trip of the same run (decided from this run only).
// VOLTTRON's figures, measured apart, are printed as context (tools/bench/lib/context.mjs), never
// as a verdict; the like-for-like one (same raw clients on both routers) matches --modes raw.
// Build first: `npm run build`. Prints a table (median of --runs) and one JSON line.
// The same file runs the child roles (`--role ...`), so tools/bench/run.mjs sees one benchmark.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBenchArgs } from './lib/args.mjs';
import { printContext, rpcContext, VOLTTRON_9_0_4 } from './lib/context.mjs';
import { cpuTimeMs, startChild } from './lib/processes.mjs';
import { median, ratio } from './lib/stats.mjs';
import { formatTable } from './lib/table.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const self = fileURLToPath(import.meta.url);
// Another build (A/B on the same machine state): BENCH_PLATFORM_MAIN=<dir>/apps/platform/dist/main.js
// BENCH_AGENT_ZMQ=<dir>/packages/agent/dist/zmq.js (children inherit the environment).
const platformMain = process.env.BENCH_PLATFORM_MAIN ?? join(root, 'apps/platform/dist/main.js');
const agentZmq = process.env.BENCH_AGENT_ZMQ ?? join(root, 'packages/agent/dist/zmq.js');
const TARGET = 1.3;

const o = parseBenchArgs(
  {
    calls: { type: 'number', default: 5000, help: 'timed calls per run (after --warmup)' },
    warmup: { type: 'number', default: 500, help: 'untimed calls first' },
    runs: { type: 'number', default: 3, help: 'runs per mode (the median is reported)' },
    modes: { type: 'string', default: 'bare,vip', help: 'comma-separated: bare | bare-min | raw | vip (see the header)' },
    payload: { type: 'number', default: 16, help: 'payload string length' },
    role: { type: 'string', default: 'bench', help: 'internal: bench | <mode>-server | <mode>-client' },
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
  // The orchestrator samples the other processes' CPU time between these two lines.
  emit({ event: 'timing' });
  const samples = [];
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 0; i < o.calls; i++) {
    const t0 = process.hrtime.bigint();
    await call();
    samples.push(Number(process.hrtime.bigint() - t0));
  }
  const elapsed = Number(process.hrtime.bigint() - start);
  const cpu = process.cpuUsage(cpu0);
  return { ...summarize(samples, elapsed), cpuUsPerCall: (cpu.user + cpu.system) / o.calls };
}

// ---- child roles -------------------------------------------------------------------------------

async function bareDealer(identity) {
  const { Dealer, curveKeyPair } = await import('zeromq');
  // The platform admits only its own key pair (raw mode); the bare forwarder admits anyone.
  // libzmq takes a CURVE key as 40-char Z85 text or 32 raw bytes (the keystore holds base64url).
  const curveKey = (text) => (text.length === 40 ? text : Buffer.from(text, 'base64url'));
  const keys = o.publickey && o.secretkey ? { publicKey: curveKey(o.publickey), secretKey: curveKey(o.secretkey) } : curveKeyPair();
  const socket = new Dealer({
    routingId: identity,
    curveServerKey: curveKey(o.serverkey),
    curvePublicKey: keys.publicKey,
    curveSecretKey: keys.secretKey,
    immediate: true,
  });
  socket.connect(o.address);
  return socket;
}

// The bare and raw roles exchange what the agents exchange for one call, frame for frame and
// byte for byte (same frame count, same sizes, so the same CURVE and copy work per message):
//   call   [srv, VIP1, '', id, RPC, {"jsonrpc": "2.0", "method": "echo", "params": [payload], "id": id}]
//   reply  [cli, VIP1, '', id, RPC, {"jsonrpc": "2.0", "id": id, "result": payload}]
// bare-min keeps the earlier, smaller baseline: [srv, payload] and back (2 frames, no VIP).
const PAYLOAD = 'x'.repeat(o.payload);
const rpcId = (n) => `${1_700_000_000 + n}.000000.${n + 1}.000000`;
// Python's json.dumps text around the id, built once: a call costs two string concatenations.
const REQUEST = [`{"jsonrpc": "2.0", "method": "echo", "params": ["${PAYLOAD}"], "id": "`, '"}'];
const REPLY = ['{"jsonrpc": "2.0", "id": "', `", "result": "${PAYLOAD}"}`];
const requestBody = (id) => REQUEST[0] + id + REQUEST[1];
const replyBody = (id) => REPLY[0] + id + REPLY[1];

async function echoServer() {
  const socket = await bareDealer('bench.srv');
  emit({ event: 'ready' });
  process.once('SIGTERM', () => socket.close());
  for await (const f of socket) {
    // In: [cli, VIP1, user, id, RPC, body]; out: the reply to the same id. Only calls from a peer
    // are answered: answering the router's own messages (peerlist add...) would start a ping-pong.
    if (f.length < 6 || f[0].length === 0 || String(f[4]) !== 'RPC') continue;
    await socket.send([f[0], f[1], '', f[3], f[4], replyBody(String(f[3]))]);
  }
}

async function echoClient() {
  const socket = await bareDealer('bench.cli');
  let n = 0;
  const call = async () => {
    const id = rpcId(n++);
    await socket.send(['bench.srv', 'VIP1', '', id, 'RPC', requestBody(id)]);
    await socket.receive();
  };
  emit(await timedLoop(call));
  socket.close();
}

async function minServer() {
  const socket = await bareDealer('bench.srv');
  emit({ event: 'ready' });
  process.once('SIGTERM', () => socket.close());
  for await (const [from, payload] of socket) await socket.send([from, payload]);
}

async function minClient() {
  const socket = await bareDealer('bench.cli');
  const payload = Buffer.from(PAYLOAD);
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
  if (mode === 'bare' || mode === 'bare-min') {
    const child = startChild('forwarder', join(root, 'tools/bench/lib/bare-forwarder.mjs'));
    const ready = await child.line((l) => l.event === 'ready');
    return { pid: child.pid, address: ready.addresses[0], serverkey: ready.serverkey, keys: [], stop: () => child.stop() };
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
      pid: child.pid,
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
    const common = [
      '--address',
      router.address,
      '--serverkey',
      router.serverkey,
      ...router.keys,
      '--calls',
      String(o.calls),
      '--warmup',
      String(o.warmup),
      '--payload',
      String(o.payload),
    ];
    const server = startChild('server', self, ['--role', `${mode}-server`, ...common]);
    children.push(server);
    await server.line((l) => l.event === 'ready', 20_000);
    const client = startChild('client', self, ['--role', `${mode}-client`, ...common]);
    children.push(client);
    await client.line((l) => l.event === 'timing', 300_000);
    // The caller measures itself (it exits right after its result line); the others stay up.
    const pids = { router: router.pid, callee: server.pid };
    const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuTimeMs(pid)]));
    const result = await client.line((l) => l.event === 'result', 300_000);
    const cpuUs = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, ((cpuTimeMs(pid) - before[k]) * 1000) / o.calls]));
    return { ...result, cpuUs: { router: cpuUs.router, caller: result.cpuUsPerCall, callee: cpuUs.callee } };
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    await router.stop();
  }
}

const LABELS = {
  bare: 'bare zeromq.js VIP-shaped req/rep via ROUTER',
  'bare-min': 'bare zeromq.js 2-frame req/rep via ROUTER',
  raw: 'raw VIP DEALERs via platform',
  vip: 'vip rpc.call via platform',
};

async function bench() {
  for (const [path, what] of [
    [platformMain, 'the platform app'],
    [agentZmq, '@vip/agent'],
  ]) {
    if (!existsSync(path)) {
      process.stderr.write(`rpc bench: ${path} (${what}) is missing: run \`npm run build\` first\n`);
      process.exit(2);
    }
  }
  const modes = [
    ...new Set([
      'bare',
      ...o.modes
        .split(',')
        .map((m) => m.trim())
        .filter((m) => m.length > 0),
    ]),
  ];
  const unknown = modes.filter((m) => !(m in LABELS));
  if (unknown.length > 0) {
    process.stderr.write(`rpc bench: unknown --modes ${unknown.join(',')} (bare | bare-min | raw | vip)\n`);
    process.exit(2);
  }
  const results = Object.fromEntries(modes.map((m) => [m, []]));
  const cpuText = (c) =>
    Object.entries(c)
      .map(([k, v]) => `${k} ${v.toFixed(1)}`)
      .join(', ');
  let failures = 0;
  // Each run measures every mode back to back: the ratio within a run is less exposed to the
  // load of a shared machine drifting between runs than the ratio of medians.
  const pairedRatios = [];
  for (let run = 1; run <= o.runs; run++) {
    const thisRun = {};
    for (const mode of modes) {
      try {
        const r = await runOnce(mode);
        results[mode].push(r);
        thisRun[mode] = r;
        process.stderr.write(
          `run ${run} ${mode}: ${Math.round(r.rate)} calls/s, p50 ${r.p50us.toFixed(0)} us, p99 ${r.p99us.toFixed(0)} us; CPU us/call: ${cpuText(r.cpuUs)}\n`,
        );
      } catch (err) {
        failures++;
        process.stderr.write(`run ${run} ${mode} failed: ${err instanceof Error ? err.message : String(err)}\n`);
      }
    }
    if (thisRun.bare && thisRun.vip) pairedRatios.push(ratio(thisRun.vip.p50us, thisRun.bare.p50us));
  }
  const agg = (mode) => {
    const rs = results[mode];
    const cpu = (k) => median(rs.map((r) => r.cpuUs[k]));
    return {
      rate: median(rs.map((r) => r.rate)),
      p50us: median(rs.map((r) => r.p50us)),
      p99us: median(rs.map((r) => r.p99us)),
      cpuUsPerCall: { router: cpu('router'), caller: cpu('caller'), callee: cpu('callee') },
    };
  };
  const summary = Object.fromEntries(modes.map((m) => [m, agg(m)]));
  const bare = summary.bare;
  const fmt = (n, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
  const rows = modes.map((m) => {
    const s = summary[m];
    return {
      what: LABELS[m],
      rate: fmt(s.rate),
      p50: fmt(s.p50us),
      p99: fmt(s.p99us),
      ratio: fmt(ratio(s.p50us, bare.p50us), 2),
      router: fmt(s.cpuUsPerCall.router, 1),
      caller: fmt(s.cpuUsPerCall.caller, 1),
      callee: fmt(s.cpuUsPerCall.callee, 1),
    };
  });
  console.log(`sequential RPC over tcp + CURVE: ${o.calls} calls (+${o.warmup} warmup), payload ${o.payload} B, median of ${o.runs} runs`);
  console.log(
    formatTable(rows, [
      { key: 'what', title: 'round trip', align: 'left' },
      { key: 'rate', title: 'calls/s' },
      { key: 'p50', title: 'p50 us' },
      { key: 'p99', title: 'p99 us' },
      { key: 'ratio', title: 'p50 vs bare' },
      { key: 'router', title: 'router CPU us/call' },
      { key: 'caller', title: 'caller' },
      { key: 'callee', title: 'callee' },
    ]),
  );
  const r = summary.vip ? ratio(summary.vip.p50us, bare.p50us) : NaN;
  const paired = median(pairedRatios);
  console.log(
    `target: vip p50 <= ${TARGET} x bare p50: ${Number.isFinite(r) ? (r <= TARGET ? 'met' : 'NOT met') : 'n/a'}` +
      ` (median of per-run ratios ${Number.isFinite(paired) ? paired.toFixed(2) : 'n/a'}: ${pairedRatios.map((x) => x.toFixed(2)).join(' ')})`,
  );
  printContext(rpcContext());
  console.log(
    JSON.stringify({
      bench: 'rpc',
      platformMain,
      agentZmq,
      calls: o.calls,
      payload: o.payload,
      runs: o.runs,
      ...summary,
      p50Ratio: r,
      pairedP50Ratios: pairedRatios,
      pairedP50Ratio: paired,
      target: TARGET,
      context: VOLTTRON_9_0_4,
    }),
  );
  process.exit(failures > 0 ? 1 : 0);
}

const roles = {
  'bare-server': echoServer,
  'bare-client': echoClient,
  'raw-server': echoServer,
  'raw-client': echoClient,
  'bare-min-server': minServer,
  'bare-min-client': minClient,
  'vip-server': vipServer,
  'vip-client': vipClient,
  bench,
};
// Profiling (BENCH_NODE_ARGS=--cpu-prof...): a stopped child exits cleanly, so it writes its profile.
if (process.env.BENCH_NODE_ARGS && o.role !== 'bench') process.once('SIGTERM', () => process.exit(0));
const role = roles[o.role];
if (!role) {
  process.stderr.write(`unknown --role ${o.role}\n`);
  process.exit(2);
}
await role();
