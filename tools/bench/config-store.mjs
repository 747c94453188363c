#!/usr/bin/env node
// The configuration store (config.store), each figure next to its baseline from the same run:
//   get       sequential `config.store` `manage_get(identity, name, false)` round trips from a
//             @vip/agent caller through the platform app (the store answers from memory), next to
//             the same caller's `rpc.call('bench.srv', 'echo', <the same config>)` to an echo agent
//             in its own process: an RPC round trip carrying the same value back
//   load      `ConfigStore.load` of a home holding one 1,000-config store file (json configs of
//             --config-bytes each), next to reading and JSON.parse of the same file
// Build first: `npm run build`. Prints a table (medians of --runs) and one JSON line.
// The same file runs the echo agent (`--role echo`).
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBenchArgs } from './lib/args.mjs';
import { startChild } from './lib/processes.mjs';
import { median, timeSequentialCalls } from './lib/stats.mjs';
import { formatTable } from './lib/table.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const self = fileURLToPath(import.meta.url);
const platformMain = join(root, 'apps/platform/dist/main.js');
const agentZmq = join(root, 'packages/agent/dist/zmq.js');
const configStoreLib = join(root, 'packages/config-store/dist/index.js');

const o = parseBenchArgs(
  {
    calls: { type: 'number', default: 2000, help: 'timed calls per run and kind (after --warmup)' },
    warmup: { type: 'number', default: 200, help: 'untimed calls first' },
    runs: { type: 'number', default: 3, help: 'runs (the median is reported)' },
    configs: { type: 'number', default: 1000, help: 'configs in the store that is loaded' },
    'config-bytes': { type: 'number', default: 256, help: "size of each config's JSON text" },
    loads: { type: 'number', default: 20, help: 'loads timed per run' },
    role: { type: 'string', default: 'bench', help: 'internal: bench | echo' },
    address: { type: 'string', default: '', help: 'internal' },
    serverkey: { type: 'string', default: '', help: 'internal' },
    publickey: { type: 'string', default: '', help: 'internal' },
    secretkey: { type: 'string', default: '', help: 'internal' },
  },
  { usage: 'node tools/bench/config-store.mjs [--calls N] [--runs N] [--configs N] [--config-bytes BYTES]' },
);
const emit = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);
const IDENTITY = 'bench.store';

/** A JSON config of about `bytes` characters (Python json.dumps spacing). */
function configText(i, bytes) {
  const head = `{"point": ${i}, "units": "C", "note": "`;
  return `${head}${'x'.repeat(Math.max(0, bytes - head.length - 2))}"}`;
}

/** The store file VOLTTRON would write for `n` configs. */
function storeFile(n, bytes) {
  const configs = {};
  configs.config = { type: 'json', modified: '2026-12-07T14:23:30.434976+00:00', data: configText(-1, bytes) };
  for (let i = 1; i < n; i++)
    configs[`points/p${i}`] = { type: 'json', modified: '2026-12-07T14:23:30.434976+00:00', data: configText(i, bytes) };
  return JSON.stringify(configs);
}

async function zmqAgent(identity) {
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

async function echo() {
  const agent = await zmqAgent('bench.srv');
  agent.rpc.export('echo', (x) => x);
  await agent.start();
  emit({ event: 'ready' });
  await new Promise((resolve) => process.once('SIGTERM', resolve));
  await agent.close();
}

function timed(call) {
  return timeSequentialCalls(call, { warmup: o.warmup, calls: o.calls });
}

async function loadTimes(home) {
  const { ConfigStore } = await import(configStoreLib);
  const directory = join(home, 'configuration_store');
  const file = join(directory, `${IDENTITY}.store`);
  const load = [];
  const parse = [];
  for (let i = 0; i < o.loads; i++) {
    let t0 = process.hrtime.bigint();
    const store = await ConfigStore.load({ directory });
    load.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (store.listConfigs(IDENTITY).length !== o.configs) throw new Error('the store did not load every config');
    t0 = process.hrtime.bigint();
    JSON.parse(await readFile(file, 'utf8'));
    parse.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return { loadMs: median(load), parseMs: median(parse) };
}

async function runOnce(run) {
  const home = await mkdtemp(join(tmpdir(), 'vip-bench-config-'));
  await mkdir(join(home, 'configuration_store'));
  await writeFile(join(home, 'configuration_store', `${IDENTITY}.store`), storeFile(o.configs, o['config-bytes']));
  const loads = await loadTimes(home);
  const platform = startChild('platform', platformMain, ['--vip-address', 'tcp://127.0.0.1:0', '--vip-home', home, '--log-level', 'warn']);
  let server;
  let agent;
  try {
    const ready = await platform.line((l) => l.event === 'ready', 30_000);
    const pair = JSON.parse(readFileSync(join(home, 'keystore'), 'utf8')); // the platform's key: user `platform`
    Object.assign(o, {
      address: ready.addresses.find((a) => a.startsWith('tcp://')),
      serverkey: ready.serverkey,
      publickey: pair.public,
      secretkey: pair.secret,
    });
    server = startChild('echo', self, [
      '--role',
      'echo',
      '--address',
      o.address,
      '--serverkey',
      o.serverkey,
      '--publickey',
      pair.public,
      '--secretkey',
      pair.secret,
    ]);
    await server.line((l) => l.event === 'ready', 20_000);
    agent = await zmqAgent('bench.cli');
    await agent.start();
    const value = await agent.rpc.call('config.store', 'manage_get', IDENTITY, 'config', false);
    const get = () => agent.rpc.call('config.store', 'manage_get', IDENTITY, 'config', false);
    const rpc = () => agent.rpc.call('bench.srv', 'echo', value);
    // alternate which goes first, so neither always runs on the warmer machine
    const [first, second] =
      run % 2 === 1
        ? [
            ['get', get],
            ['rpc', rpc],
          ]
        : [
            ['rpc', rpc],
            ['get', get],
          ];
    const out = { ...loads };
    out[first[0]] = await timed(first[1]);
    out[second[0]] = await timed(second[1]);
    return out;
  } finally {
    await agent?.close();
    await server?.stop();
    await platform.stop();
    await rm(home, { recursive: true, force: true });
  }
}

async function bench() {
  for (const path of [platformMain, agentZmq, configStoreLib]) {
    if (!existsSync(path)) {
      process.stderr.write(`config-store bench: ${path} is missing: run \`npm run build\` first\n`);
      process.exit(2);
    }
  }
  const runs = [];
  for (let run = 1; run <= o.runs; run++) {
    const r = await runOnce(run);
    runs.push(r);
    process.stderr.write(
      `run ${run}: get p50 ${r.get.p50us.toFixed(0)} us, echo p50 ${r.rpc.p50us.toFixed(0)} us; load ${r.loadMs.toFixed(1)} ms, JSON.parse ${r.parseMs.toFixed(1)} ms\n`,
    );
  }
  const m = (f) => median(runs.map(f));
  const summary = {
    get: { rate: m((r) => r.get.rate), p50us: m((r) => r.get.p50us), p99us: m((r) => r.get.p99us) },
    rpc: { rate: m((r) => r.rpc.rate), p50us: m((r) => r.rpc.p50us), p99us: m((r) => r.rpc.p99us) },
    loadMs: m((r) => r.loadMs),
    parseMs: m((r) => r.parseMs),
  };
  console.log(
    `config.store over tcp + CURVE: ${o.calls} calls (+${o.warmup} warmup) per kind, config ${o['config-bytes']} B, median of ${o.runs} runs`,
  );
  console.log(
    formatTable(
      [
        {
          what: 'config.store manage_get (parsed)',
          rate: summary.get.rate.toFixed(0),
          p50: summary.get.p50us.toFixed(0),
          p99: summary.get.p99us.toFixed(0),
        },
        {
          what: 'rpc echo of the same config (baseline)',
          rate: summary.rpc.rate.toFixed(0),
          p50: summary.rpc.p50us.toFixed(0),
          p99: summary.rpc.p99us.toFixed(0),
        },
      ],
      [
        { key: 'what', title: 'round trip', align: 'left' },
        { key: 'rate', title: 'calls/s' },
        { key: 'p50', title: 'p50 us' },
        { key: 'p99', title: 'p99 us' },
      ],
    ),
  );
  console.log(
    `${o.configs}-config store: ConfigStore.load ${summary.loadMs.toFixed(1)} ms (median of ${o.loads} x ${o.runs}); read + JSON.parse of the same file ${summary.parseMs.toFixed(1)} ms`,
  );
  console.log(
    JSON.stringify({ bench: 'config-store', calls: o.calls, configs: o.configs, configBytes: o['config-bytes'], runs: o.runs, ...summary }),
  );
}

const roles = { echo, bench };
const role = roles[o.role];
if (!role) {
  process.stderr.write(`unknown --role ${o.role}\n`);
  process.exit(2);
}
await role();
