#!/usr/bin/env node
// PubSub soak: --messages (default 1,000,000) publishes through the platform app (tcp + CURVE), one
// publisher and one subscriber in their own processes (the roles of tools/bench/pubsub.mjs).
// Every message must be accounted for: delivered to the subscriber, or counted as dropped by the
// router's pubsub service (`vip-router-stats` query). Reports the router's RSS at start, once 10% of the
// messages are through (warm), at its peak and at the end; "flat" = end within --max-growth-mb of warm.
// Build first: `npm run build`. Exit 1 when a message is unaccounted for or memory grew.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Dealer } from 'zeromq';
import { parseBenchArgs } from '../bench/lib/args.mjs';
import { startChild } from '../bench/lib/processes.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const roles = join(root, 'tools/bench/pubsub.mjs');
const platformMain = join(root, 'apps/platform/dist/main.js');
const o = parseBenchArgs(
  {
    messages: { type: 'number', default: 1_000_000, help: 'messages to publish' },
    window: { type: 'number', default: 1000, help: 'unacknowledged publishes allowed' },
    'max-growth-mb': { type: 'number', default: 30, help: 'allowed router RSS growth from 10% of the messages to the end' },
    'slow-ms': { type: 'number', default: 0, help: 'add a second subscriber pausing this many ms every 100 messages (drops then happen)' },
  },
  { usage: 'node tools/soak/pubsub-soak.mjs [options]' },
);
if (!existsSync(platformMain)) {
  process.stderr.write(`pubsub soak: ${platformMain} is missing: run \`npm run build\` first\n`);
  process.exit(2);
}

const rssMb = async (pid) => {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
};
let statsQueries = 0;
const log = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

const home = await mkdtemp(join(tmpdir(), 'vip-soak-pubsub-'));
const platform = startChild('platform', platformMain, ['--vip-address', 'tcp://127.0.0.1:0', '--vip-home', home, '--log-level', 'warn']);
const children = [];
let ok = false;
try {
  const ready = await platform.line((l) => l.event === 'ready', 20_000);
  const pair = JSON.parse(await readFile(join(home, 'keystore'), 'utf8'));
  const env = {
    ...process.env,
    BENCH_ADDRESS: ready.addresses.find((a) => a.startsWith('tcp://')),
    BENCH_SERVERKEY: ready.serverkey,
    BENCH_PUBLICKEY: pair.public,
    BENCH_SECRETKEY: pair.secret,
    BENCH_MESSAGES: String(o.messages),
    BENCH_PAYLOAD: '16',
  };
  const sub = startChild('subscriber', roles, [], { env: { ...env, VIP_BENCH_ROLE: 'vip-sub', BENCH_SUBS: '1' } });
  children.push(sub);
  await sub.line((l) => l.event === 'subscribed', 20_000);
  let slow;
  if (o['slow-ms'] > 0) {
    slow = startChild('slow-subscriber', roles, [], {
      env: { ...env, VIP_BENCH_ROLE: 'vip-sub', BENCH_SUBS: '1', BENCH_SUB_NAME: 'soak.slow', BENCH_SLOW_MS: String(o['slow-ms']) },
    });
    children.push(slow);
    await slow.line((l) => l.event === 'subscribed', 20_000);
  }
  const subscribers = slow ? 2 : 1;
  const rssStart = await rssMb(ready.pid);
  log({ event: 'start', messages: o.messages, routerPid: ready.pid, rssMb: rssStart });
  const t0 = performance.now();
  const pub = startChild('publisher', roles, [], {
    env: { ...env, VIP_BENCH_ROLE: 'vip-pub', BENCH_WAIT: '0', BENCH_WINDOW: String(o.window) },
  });
  children.push(pub);
  let peak = rssStart;
  let warm; // RSS once 10% of the messages are through: the baseline for "flat"
  let sampling = false;
  const sampler = setInterval(() => {
    if (sampling) return;
    sampling = true;
    Promise.all([rssMb(ready.pid), warm === undefined ? queryStats(env) : undefined])
      .then(
        ([r, st]) => {
          peak = Math.max(peak, r);
          if (st && st.router.extensions.pubsub.published >= o.messages / 10) warm = r;
        },
        () => {},
      )
      .finally(() => (sampling = false));
  }, 1000);
  const result = await sub.line((l) => l.event === 'result', 3_600_000);
  const slowResult = slow ? await slow.line((l) => l.event === 'result', 3_600_000) : { received: 0 };
  const sent = await pub.line((l) => l.event === 'sent', 60_000);
  clearInterval(sampler);
  const seconds = (performance.now() - t0) / 1000;
  const stats = await queryStats(env);
  const ps = stats.router.extensions.pubsub;
  const dropped = Object.entries(ps)
    .filter(([k]) => k.startsWith('dropped.'))
    .reduce((n, [, v]) => n + v, 0);
  // let the router settle, then read its memory
  await new Promise((r) => setTimeout(r, 5000));
  const rssEnd = await rssMb(ready.pid);
  const received = result.received + slowResult.received;
  const accounted =
    ps.published === o.messages && ps.delivered + dropped === o.messages * subscribers && received === ps.delivered && ps.pending === 0;
  const growth = rssEnd - (warm ?? rssStart);
  ok = accounted && growth <= o['max-growth-mb'];
  log({
    event: 'result',
    messages: o.messages,
    seconds: Math.round(seconds),
    rate: Math.round(o.messages / seconds),
    published: ps.published,
    delivered: ps.delivered,
    dropped,
    droppedBy: Object.fromEntries(Object.entries(ps).filter(([k]) => k.startsWith('dropped.'))),
    repliesDropped: ps.replies_dropped,
    subscribers,
    subscriberReceived: result.received,
    slowSubscriberReceived: slow ? slowResult.received : undefined,
    errorsToPublisher: sent.errors,
    accounted,
    rssStartMb: +rssStart.toFixed(1),
    rssWarmMb: warm === undefined ? undefined : +warm.toFixed(1),
    rssPeakMb: +peak.toFixed(1),
    rssEndMb: +rssEnd.toFixed(1),
    growthMb: +growth.toFixed(1),
    ok,
  });
} catch (err) {
  process.stderr.write(`pubsub soak failed: ${err instanceof Error ? err.message : String(err)}\n`);
} finally {
  await Promise.all(children.map((c) => c.stop()));
  await platform.stop();
  await rm(home, { recursive: true, force: true });
}
process.exit(ok ? 0 : 1);

/** The platform's `vip-router-stats` query (router counters with the pubsub service's). */
async function queryStats(env) {
  const key = (t) => (t.length === 40 ? t : Buffer.from(t, 'base64url'));
  const s = new Dealer({
    routingId: `soak.stats.${++statsQueries}`,
    linger: 0,
    curveServerKey: key(env.BENCH_SERVERKEY),
    curvePublicKey: key(env.BENCH_PUBLICKEY),
    curveSecretKey: key(env.BENCH_SECRETKEY),
  });
  s.connect(env.BENCH_ADDRESS);
  try {
    await s.send(['', 'VIP1', '', 'stats-1', 'query', 'vip-router-stats']);
    for await (const f of s) if (String(f[3]) === 'stats-1' && String(f[4]) === 'query') return JSON.parse(String(f[6]));
    throw new Error('no stats reply');
  } finally {
    s.close();
  }
}
