#!/usr/bin/env node
// RabbitMQ broker-pubsub soak: --messages (default 1,000,000) publishes of @vip/agent/rmq agents
// (VOLTTRON's broker pubsub, publisher confirms, true subscriber counts through the management API)
// with a platform PROCESS on RabbitMQ answering the hellos, in a fresh virtual host (deleted after).
// Two subscribers: one on an exclusive queue, one on a persistent (durable) queue. Every publish
// must resolve to 2 and every message reach both subscribers exactly once (no loss, no duplicate).
// Memory: this process (publisher + subscribers: confirms, binding reads, deferred acks) and the
// platform's RSS at start, once 10 % of the messages are through (warm), at the peak and at the
// end; "flat" = end within --max-growth-mb of warm. Progress every 10 %. Needs the broker with the
// management API (bash tools/ensure-rabbitmq.sh) and `npm run build`. Exit 1 when a message is
// unaccounted for or memory grew.
import { readFile } from 'node:fs/promises';
import { parseBenchArgs } from '../bench/lib/args.mjs';
import { platformBuilt, rmqPlatformArgs, startPlatformApp } from '../bench/lib/platform.mjs';
import { promiseWindow } from '../bench/lib/window.mjs';

const o = parseBenchArgs(
  {
    url: { type: 'string', default: 'amqp://guest:guest@127.0.0.1:5672', help: 'broker' },
    management: { type: 'string', default: 'http://127.0.0.1:15672', help: 'management API (guest/guest)' },
    messages: { type: 'number', default: 1_000_000, help: 'messages to publish' },
    window: { type: 'number', default: 1000, help: 'unresolved publishes allowed' },
    'max-growth-mb': { type: 'number', default: 40, help: 'allowed RSS growth (each process) from 10% of the messages to the end' },
  },
  { usage: 'node tools/soak/rmq-pubsub-soak.mjs [options]' },
);
if (!platformBuilt()) {
  process.stderr.write('rmq soak: apps/platform/dist is missing: run `npm run build` first\n');
  process.exit(2);
}
const { ensureVolttronBroker, RabbitMqManagement } = await import('@vip/rmq/admin');
const { createRmqAgent } = await import('@vip/agent/rmq');

const log = (x) => process.stdout.write(`${JSON.stringify(x)}\n`);
const rssMb = async (pid) => Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
const managementOptions = { baseUrl: o.management, user: 'guest', password: 'guest' };
const vhost = `vip-soak-${process.pid}`;
const instanceName = 'soak';
const mgmt = new RabbitMqManagement(managementOptions);

let ok = false;
let platform;
const agents = [];
try {
  await ensureVolttronBroker({ url: o.url, vhost, management: managementOptions });
  platform = await startPlatformApp({
    // shared login: the soak's agents log in as guest
    extraArgs: [...rmqPlatformArgs({ url: o.url, vhost, management: o.management, instanceName }), '--allow-auth', 'false'],
  });
  const link = { url: o.url, vhost, instanceName };
  const agent = async (identity) => {
    const a = createRmqAgent({ identity, rmq: link, management: managementOptions });
    agents.push(a);
    await a.start();
    return a;
  };
  const pub = await agent('soak.pub');
  const plain = await agent('soak.sub');
  const durable = await agent('soak.keep');
  // per subscriber: a bit per message number (a duplicate or a stranger is counted, not hidden)
  const seen = { plain: new Uint8Array(o.messages), durable: new Uint8Array(o.messages) };
  const got = { plain: 0, durable: 0, duplicates: 0, strangers: 0 };
  const receiver = (name) => (_p, _s, _b, _t, _h, message) => {
    const n = Number(message);
    if (!Number.isInteger(n) || n < 0 || n >= o.messages) return void (got.strangers += 1);
    if (seen[name][n]) return void (got.duplicates += 1);
    seen[name][n] = 1;
    got[name] += 1;
  };
  await plain.pubsub.subscribe('soak/', receiver('plain'));
  await durable.pubsub.subscribe('soak/', receiver('durable'), { persistentQueue: 'soak' });

  const rss = async () => ({ self: process.memoryUsage().rss / 2 ** 20, platform: await rssMb(platform.pid) });
  const start = await rss();
  const peak = { ...start };
  let warm;
  log({ event: 'start', messages: o.messages, window: o.window, rssMb: round(start) });
  const window = promiseWindow(o.window);
  const counts = { resolved: 0, notTwo: 0, failed: 0 };
  const t0 = performance.now();
  const tenth = Math.max(1, Math.floor(o.messages / 10));
  for (let i = 0; i < o.messages; i++) {
    const full = window.add(
      pub.pubsub.publish('soak/topic', { message: i }).then(
        (n) => {
          counts.resolved += 1;
          if (n !== 2) counts.notTwo += 1;
        },
        () => void (counts.failed += 1),
      ),
    );
    if (full) await full;
    if ((i + 1) % tenth === 0) {
      const r = await rss();
      peak.self = Math.max(peak.self, r.self);
      peak.platform = Math.max(peak.platform, r.platform);
      if (warm === undefined) warm = r;
      log({
        event: 'progress',
        published: i + 1,
        seconds: Math.round((performance.now() - t0) / 1000),
        delivered: { ...got },
        rssMb: round(r),
      });
    }
  }
  await window.drain();
  const deadline = Date.now() + 120_000;
  while ((got.plain < o.messages || got.durable < o.messages) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const seconds = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 3000)); // let acks and reads settle before reading memory
  globalThis.gc?.();
  const end = await rss();
  const growth = { self: end.self - (warm ?? start).self, platform: end.platform - (warm ?? start).platform };
  const accounted =
    counts.resolved === o.messages &&
    counts.notTwo === 0 &&
    counts.failed === 0 &&
    got.plain === o.messages &&
    got.durable === o.messages &&
    got.duplicates === 0 &&
    got.strangers === 0;
  ok = accounted && growth.self <= o['max-growth-mb'] && growth.platform <= o['max-growth-mb'];
  log({
    event: 'result',
    messages: o.messages,
    seconds: Math.round(seconds),
    rate: Math.round(o.messages / seconds),
    publishes: counts,
    delivered: got,
    pubStats: pub.pubsub.stats(),
    accounted,
    rssStartMb: round(start),
    rssWarmMb: warm && round(warm),
    rssPeakMb: round(peak),
    rssEndMb: round(end),
    growthMb: round(growth),
    ok,
  });
} catch (err) {
  process.stderr.write(`rmq soak failed: ${err instanceof Error ? err.stack : String(err)}\n`);
} finally {
  for (const a of agents) await a.close().catch(() => undefined);
  await platform?.stop();
  await mgmt.deleteVhost(vhost).catch(() => undefined);
}
process.exit(ok ? 0 : 1);

function round(r) {
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, +v.toFixed(1)]));
}
