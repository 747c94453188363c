#!/usr/bin/env node
// Messages/s through a VIP router over tcp + CURVE, sender and receiver in their own processes:
//   bare  a zeromq.js ROUTER that swaps two frames and sends (the baseline)
//   vip   our router: the platform app (apps/platform/dist/main.js), or with --router transport
//         (or when the app is not built) a minimal router on ZmqRouterTransport (packages/zmq/dist)
// Each message: 5 VIP frames + a payload frame from the sender (6 + payload at the router).
// Another build of the platform (A/B on the same machine state): BENCH_PLATFORM_MAIN=<dir>/apps/platform/dist/main.js.
// Build first: `npm run build`. Prints a table (median of --runs) and one JSON line.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBenchArgs } from './lib/args.mjs';
import { platformBuilt, platformMain, startPlatformApp } from './lib/platform.mjs';
import { cpuTimeMs, startChild } from './lib/processes.mjs';
import { formatRate, median, ratio } from './lib/stats.mjs';
import { formatTable } from './lib/table.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const lib = (name) => join(root, 'tools/bench/lib', name);
const TARGET = 0.8;

const o = parseBenchArgs(
  {
    messages: { type: 'number', default: 100000, help: 'messages per run' },
    runs: { type: 'number', default: 3, help: 'runs per router (the median is reported)' },
    payload: { type: 'number', default: 64, help: 'payload frame size in bytes' },
    window: { type: 'number', default: 2000, help: 'unacknowledged messages the sender may have out' },
    'time-limit': { type: 'number', default: 60, help: 'seconds per run before it is abandoned' },
    router: { type: 'string', default: 'auto', help: 'app | transport | auto (app when built)' },
    'platform-args': { type: 'string', default: '', help: 'extra platform flags, space-separated (e.g. "--zmq-send-hwm 64")' },
  },
  { usage: 'node tools/bench/router-forwarding.mjs [options]' },
);

const useApp = o.router === 'app' || (o.router === 'auto' && platformBuilt());
if (o.router === 'app' && !platformBuilt()) fail(`${platformMain} is missing: run \`npm run build\` first`);
if (!useApp && !existsSync(join(root, 'packages/zmq/dist/index.js'))) fail('packages/zmq/dist is missing: run `npm run build` first');
const vipLabel = useApp ? 'vip (platform app)' : 'vip (ZmqRouterTransport)';

function fail(message) {
  process.stderr.write(`router-forwarding: ${message}\n`);
  process.exit(2);
}

/** Starts the forwarder for `mode`; returns its address, server key, client keys and a cleanup. */
async function startForwarder(mode) {
  if (mode === 'bare' || !useApp) {
    const child = startChild(mode, lib(mode === 'bare' ? 'bare-forwarder.mjs' : 'transport-forwarder.mjs'));
    const ready = await child.line((l) => l.event === 'ready');
    return { pid: child.pid, address: ready.addresses[0], serverkey: ready.serverkey, keys: [], stop: () => child.stop() };
  }
  // The platform admits its own key (auth.json written on first start): the peers use it.
  const platform = await startPlatformApp({ extraArgs: o['platform-args'].split(' ').filter(Boolean) });
  return {
    pid: platform.pid,
    address: platform.address,
    serverkey: platform.serverkey,
    keys: ['--publickey', platform.keys.public, '--secretkey', platform.keys.secret],
    stop: platform.stop,
  };
}

async function runOnce(mode) {
  const fwd = await startForwarder(mode);
  const children = [];
  try {
    const common = [
      '--address',
      fwd.address,
      '--serverkey',
      fwd.serverkey,
      ...fwd.keys,
      '--messages',
      String(o.messages),
      '--payload',
      String(o.payload),
      '--window',
      String(o.window),
    ];
    const cpuBefore = cpuTimeMs(fwd.pid);
    const receiver = startChild('receiver', lib('forwarding-peer.mjs'), ['--role', 'receiver', ...common]);
    children.push(receiver);
    const sender = startChild('sender', lib('forwarding-peer.mjs'), ['--role', 'sender', ...common]);
    children.push(sender);
    const result = await receiver.line((l) => l.event === 'result', o['time-limit'] * 1000);
    // Router CPU per message: unlike the rate, it does not depend on how busy the machine is.
    const cpuUsPerMessage = ((cpuTimeMs(fwd.pid) - cpuBefore) * 1000) / o.messages;
    return { rate: result.rate, cpuUsPerMessage };
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    await fwd.stop();
  }
}

const rates = { bare: [], vip: [] };
const cpu = { bare: [], vip: [] };
let failures = 0;
for (let run = 1; run <= o.runs; run++) {
  for (const mode of ['bare', 'vip']) {
    try {
      const { rate, cpuUsPerMessage } = await runOnce(mode);
      rates[mode].push(rate);
      cpu[mode].push(cpuUsPerMessage);
      process.stderr.write(`run ${run} ${mode}: ${formatRate(rate)} msg/s, router CPU ${cpuUsPerMessage.toFixed(1)} us/msg\n`);
    } catch (err) {
      failures++;
      rates[mode].push(NaN);
      cpu[mode].push(NaN);
      process.stderr.write(`run ${run} ${mode} failed: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
}

const bare = median(rates.bare);
const vip = median(rates.vip);
const cpuBare = median(cpu.bare);
const cpuVip = median(cpu.vip);
const us = (v) => (Number.isFinite(v) ? v.toFixed(1) : 'n/a');
const rows = [
  {
    router: 'bare zeromq.js ROUTER',
    ...Object.fromEntries(rates.bare.map((r, i) => [`run${i + 1}`, formatRate(r)])),
    median: formatRate(bare),
    ratio: '1.00',
    cpu: us(cpuBare),
    cpuRatio: '1.00',
  },
  {
    router: vipLabel,
    ...Object.fromEntries(rates.vip.map((r, i) => [`run${i + 1}`, formatRate(r)])),
    median: formatRate(vip),
    ratio: ratio(vip, bare).toFixed(2),
    cpu: us(cpuVip),
    cpuRatio: ratio(cpuBare, cpuVip).toFixed(2),
  },
];
const columns = [
  { key: 'router', title: 'router', align: 'left' },
  ...Array.from({ length: o.runs }, (_, i) => ({ key: `run${i + 1}`, title: `run ${i + 1}` })),
  { key: 'median', title: 'median msg/s' },
  { key: 'ratio', title: 'vs bare' },
  { key: 'cpu', title: 'router CPU us/msg' },
  { key: 'cpuRatio', title: 'CPU efficiency vs bare' },
];
console.log(`router forwarding over tcp + CURVE: ${o.messages} messages x (6 frames + ${o.payload} B), window ${o.window}`);
console.log(formatTable(rows, columns));
const r = ratio(vip, bare);
console.log(`target: vip >= ${TARGET} x bare: ${Number.isFinite(r) ? (r >= TARGET ? 'met' : 'NOT met') : 'n/a'}`);
console.log(
  JSON.stringify({
    bench: 'router-forwarding',
    router: useApp ? 'app' : 'transport',
    platformMain: useApp ? platformMain : undefined,
    messages: o.messages,
    payload: o.payload,
    runs: o.runs,
    bare: { rates: rates.bare, median: bare, cpuUsPerMessage: cpuBare },
    vip: { rates: rates.vip, median: vip, cpuUsPerMessage: cpuVip },
    ratio: r,
    cpuEfficiency: ratio(cpuBare, cpuVip),
    target: TARGET,
  }),
);
process.exit(failures > 0 ? 1 : 0);
