#!/usr/bin/env node
// Federated pubsub between two RabbitMQ platforms, next to raw amqplib over the SAME federation
// link, same run. A PRIVATE node (tools/rmq-cluster.sh, one node, federation plugin enabled there
// only; never the shared broker) holds two virtual hosts, `pa` and `pb`; pb federates pa's
// `volttron` exchange with VOLTTRON's upstream and policy (applyFederation, as `vipctl federation
// add` sets it up). Messages/s one way, first publish to last delivery:
//   raw  amqplib confirm-channel publisher on pa (persistent messages, a window of unconfirmed
//        publishes), amqplib consumer on pb with a queue bound `__pubsub__.*.rawbench.#` (acks)
//   vip  RmqPubSub publisher on pa (VOLTTRON's pubsub mapping, confirmed, same window, no
//        subscriber counts), RmqPubSub all-platforms subscriber on pb
// Alternating runs (which side goes first alternates too); the median of each. The node is started and stopped by the bench.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import { parseBenchArgs } from './lib/args.mjs';
import { formatRate, median, ratio } from './lib/stats.mjs';
import { promiseWindow } from './lib/window.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
if (!existsSync(`${root}/packages/rmq/dist/index.js`)) {
  process.stderr.write('federation bench: packages/rmq/dist is missing: run `npm run build` first\n');
  process.exit(2);
}
const { RmqPubSub } = await import('@vip/rmq/pubsub');
const { RabbitMqManagement, applyFederation, ensureVolttronBroker, federationStatus, parseFederationConfig } = await import(
  '@vip/rmq/admin'
);

const o = parseBenchArgs(
  {
    messages: { type: 'number', default: 5000, help: 'messages per run' },
    runs: { type: 'number', default: 3, help: 'runs of each side' },
    window: { type: 'number', default: 100, help: 'unconfirmed publishes in flight' },
    payload: { type: 'number', default: 100, help: 'message bytes' },
    base: { type: 'number', default: 5811, help: 'AMQP port of the private node (management +10000)' },
  },
  { usage: 'node tools/bench/federation.mjs [options]' },
);

const script = `${root}/tools/rmq-cluster.sh`;
const env = {
  ...process.env,
  VIP_RMQ_CLUSTER_BASE: String(o.base),
  VIP_RMQ_CLUSTER_NODES: '1',
  VIP_RMQ_CLUSTER_DIR: '/tmp/vip-rmq-bench-fed',
  VIP_RMQ_CLUSTER_PREFIX: 'vip-bf',
};
const url = `amqp://guest:guest@127.0.0.1:${o.base}`;
const management = { baseUrl: `http://127.0.0.1:${o.base + 10_000}`, user: 'guest', password: 'guest' };
const payload = 'x'.repeat(o.payload);

function waitFor(check, ms, what) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + ms;
    const tick = async () => {
      if (await check()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 50);
    };
    void tick();
  });
}

async function rawRun() {
  const pubConn = await amqp.connect(`${url}/pa`, { noDelay: true });
  const subConn = await amqp.connect(`${url}/pb`, { noDelay: true });
  const ch = await pubConn.createConfirmChannel();
  const sub = await subConn.createChannel();
  await sub.prefetch(256);
  const { queue } = await sub.assertQueue('', { exclusive: true, autoDelete: true });
  await sub.bindQueue(queue, 'volttron', '__pubsub__.*.rawbench.#');
  let got = 0;
  let done;
  const all = new Promise((r) => (done = r));
  await sub.consume(queue, (m) => {
    sub.ack(m);
    if (++got === o.messages) done();
  });
  // the binding crosses the link asynchronously: one probe message first
  await waitFor(
    async () => {
      await new Promise((r, j) => ch.publish('volttron', '__pubsub__.pa.rawbench.probe', Buffer.from('p'), {}, (e) => (e ? j(e) : r())));
      return got > 0;
    },
    30_000,
    'the raw binding across the federation link',
  );
  await new Promise((r) => setTimeout(r, 300));
  got = 0;
  const w = promiseWindow(o.window);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < o.messages; i++) {
    const p = new Promise((r, j) =>
      ch.publish(
        'volttron',
        '__pubsub__.pa.rawbench.x',
        Buffer.from(payload),
        { persistent: true, contentType: 'application/json' },
        (e) => (e ? j(e) : r()),
      ),
    );
    const wait = w.add(p);
    if (wait) await wait;
  }
  await w.drain();
  await all;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  await pubConn.close();
  await subConn.close();
  return o.messages / s;
}

async function vipRun() {
  const pub = new RmqPubSub({ url, vhost: 'pa', instanceName: 'pa', identity: 'benchpub' });
  const sub = new RmqPubSub({ url, vhost: 'pb', instanceName: 'pb', identity: 'benchsub' });
  await Promise.all([pub.open(), sub.open()]);
  let got = 0;
  let done;
  const all = new Promise((r) => (done = r));
  await sub.subscribe(
    'vipbench',
    () => {
      if (++got === o.messages) done();
    },
    { allPlatforms: true },
  );
  await waitFor(
    async () => {
      await pub.publish({ topic: 'vipbench/probe', message: 'p' }, { count: false });
      return got > 0;
    },
    30_000,
    'the vip binding across the federation link',
  );
  await new Promise((r) => setTimeout(r, 300));
  got = 0;
  const w = promiseWindow(o.window);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < o.messages; i++) {
    const wait = w.add(pub.publish({ topic: 'vipbench/x', message: payload }, { count: false }));
    if (wait) await wait;
  }
  await w.drain();
  await all;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  await Promise.all([pub.close(), sub.close()]);
  return o.messages / s;
}

execFileSync('bash', [script, 'start'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
try {
  for (const v of ['pa', 'pb']) await ensureVolttronBroker({ url, vhost: v, management });
  const api = new RabbitMqManagement(management);
  await applyFederation(
    api,
    'pb',
    parseFederationConfig({
      'federation-upstream': { '127.0.0.1': { port: o.base, 'virtual-host': 'pa', 'federation-user': 'guest', password: 'guest' } },
    }),
  );
  await waitFor(async () => (await federationStatus(api, 'pb'))[0]?.state === 'running', 60_000, 'the federation link');
  const raw = [];
  const vip = [];
  // which side goes first alternates, so a load that drifts over the run charges both alike
  for (let r = 0; r < o.runs; r++) {
    if (r % 2 === 0) {
      raw.push(await rawRun());
      vip.push(await vipRun());
    } else {
      vip.push(await vipRun());
      raw.push(await rawRun());
    }
  }
  const [rm, vm] = [median(raw), median(vip)];
  console.log(`federated pubsub, ${o.messages} msgs x ${o.runs} runs, ${o.payload} B, window ${o.window}`);
  console.log(`  raw amqplib over the link  ${formatRate(rm)} msg/s   (runs ${raw.map(formatRate).join(', ')})`);
  console.log(`  vip RmqPubSub over it      ${formatRate(vm)} msg/s   (runs ${vip.map(formatRate).join(', ')})`);
  console.log(`  vip / raw                  ${ratio(vm, rm).toFixed(2)}x (target >= 0.7x)`);
  console.log(JSON.stringify({ bench: 'federation', raw: rm, vip: vm, ratio: ratio(vm, rm), runs: { raw, vip } }));
} finally {
  execFileSync('bash', [script, 'stop', '--wipe'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
}
