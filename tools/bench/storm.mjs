#!/usr/bin/env node
// Connection storm against the platform app (issue 10, item 8), on loopback, CURVE on:
//   concurrent  --clients connections at once, each with its own key pinned to its identity (a
//               fleet); they stay until all are welcomed and every peer has been told of every
//               other (peerlist add), then leave together
//   short       --clients connections at once, each closing as soon as it is welcomed, --waves times
//   abrupt      --burst connections at once, each closed 0..--abrupt-ms after it started, welcomed or not
//   unknown     --clients connections at once with keys not in auth.json (refused)
// --repeat N runs each storm N times on the same platform (is memory retained once, or per storm?).
// For each: time until every storm client is welcomed (or refused), the welcome time of one
// valid client started in the middle of the storm, and the platform's RSS before, at its peak,
// and after the storm clients have left. Bounded by --time-limit per phase. Build first
// (`npm run build`). Prints a table and one JSON line per variant.
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { curveKeyPair, Dealer } from 'zeromq';
import { encodeKey, keyToZ85 } from '../../packages/protocol/dist/index.js';
import { parseBenchArgs } from './lib/args.mjs';
import { platformBuilt, platformMain, startPlatformApp } from './lib/platform.mjs';
import { receiveEach } from './lib/receive-each.mjs';
import { startChild } from './lib/processes.mjs';
import { formatTable } from './lib/table.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const o = parseBenchArgs(
  {
    clients: { type: 'number', default: 2000, help: 'storm connections' },
    variants: { type: 'string', default: 'concurrent,short,abrupt,unknown', help: 'comma-separated: concurrent, short, abrupt, unknown' },
    burst: { type: 'number', default: 500, help: 'abrupt: connections in the burst' },
    'abrupt-ms': { type: 'number', default: 200, help: 'abrupt: each connection closes after a random 0..this ms' },
    waves: { type: 'number', default: 3, help: 'short: how many times the whole set connects' },
    'time-limit': { type: 'number', default: 180, help: 'seconds per storm before it is abandoned' },
    'settle-ms': { type: 'number', default: 5000, help: 'after the storm clients left, wait this long before the last RSS sample' },
    'unknown-wait': { type: 'number', default: 10, help: 'unknown: seconds to count refusals after the valid client' },
    repeat: { type: 'number', default: 1, help: 'storms per variant on the same platform (RSS after each: retained or leaked?)' },
  },
  { usage: 'node tools/bench/storm.mjs [options]' },
);
if (!platformBuilt()) {
  process.stderr.write(`storm: ${platformMain} is missing: run \`npm run build\` first\n`);
  process.exit(2);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const b64 = (z85) => encodeKey(z85);

/** Resident set size of a process, MB, from /proc (Linux). */
function rssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** A raw VIP client on the platform's own keys (admitted by its first-start auth.json). */
function statsClient(platform) {
  const d = new Dealer({
    routingId: `storm.observer.${process.pid}`,
    linger: 0,
    sendTimeout: 0,
    curveServerKey: toZ85(platform.serverkey),
    curvePublicKey: toZ85(platform.keys.public),
    curveSecretKey: toZ85(platform.keys.secret),
  });
  d.connect(platform.address);
  const waiting = new Map();
  let n = 0;
  void receiveEach(d, (f) => void waiting.get(f[3]?.toString())?.(f));
  const request = (subsystem, args, timeoutMs = 30_000) => {
    const id = `q.${++n}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`${subsystem} timed out`));
      }, timeoutMs);
      waiting.set(id, (f) => {
        clearTimeout(timer);
        waiting.delete(id);
        resolve(f);
      });
      void d.send(['', 'VIP1', '', id, subsystem, ...args]).catch(reject);
    });
  };
  return {
    stats: async () => JSON.parse((await request('query', ['vip-router-stats']))[6].toString()),
    hello: () => request('hello', ['hello'], 60_000),
    close: () => d.close(),
  };
}

/** Any key encoding the platform prints, as the Z85 text zeromq.js takes. */
const toZ85 = (key) => keyToZ85(key);

/** The valid client: its own pinned key, connected now; resolves with ms until its welcome. */
async function validClient(platform, key, limitMs) {
  const started = performance.now();
  const d = new Dealer({
    routingId: key.identity,
    linger: 0,
    curveServerKey: toZ85(platform.serverkey),
    curvePublicKey: key.publicKey,
    curveSecretKey: key.secretKey,
  });
  d.connect(platform.address);
  await d.send(['', 'VIP1', '', 'valid.hello', 'hello', 'hello']);
  const deadline = setTimeout(() => d.close(), limitMs);
  try {
    for (;;) {
      const f = await d.receive();
      if (f[3]?.toString() === 'valid.hello' && f[5]?.toString() === 'welcome') return performance.now() - started;
    }
  } catch {
    return NaN;
  } finally {
    clearTimeout(deadline);
    d.close();
  }
}

async function runVariant(variant) {
  const home = await mkdtemp(join(tmpdir(), 'vip-storm-'));
  // First start writes auth.json and the platform keys; the storm keys are added before the second start.
  await (await startPlatformApp({ home, keepHome: true })).stop();
  const mk = (identity) => ({ identity, ...curveKeyPair() });
  const clients = Array.from({ length: variant === 'abrupt' ? o.burst : o.clients }, (_, i) => mk(`storm.${variant}.${i}`));
  const valid = mk(`storm.valid.${variant}`);
  const auth = JSON.parse(await readFile(join(home, 'auth.json'), 'utf8'));
  const entry = (c) => ({
    domain: null,
    address: null,
    mechanism: 'CURVE',
    credentials: b64(c.publicKey),
    user_id: c.identity,
    identity: c.identity,
    capabilities: {},
    comments: 'storm',
    enabled: true,
  });
  auth.allow = [...auth.allow, entry(valid), ...(variant === 'unknown' ? [] : clients.map(entry))];
  await writeFile(join(home, 'auth.json'), JSON.stringify(auth));
  const platform = await startPlatformApp({ home });
  const observer = statsClient(platform);
  const configPath = join(home, 'storm-clients.json');
  await writeFile(
    configPath,
    JSON.stringify({
      address: platform.address,
      serverKey: toZ85(platform.serverkey),
      mode: variant === 'concurrent' ? 'stay' : variant,
      waves: o.waves,
      abruptMs: o['abrupt-ms'],
      clients,
    }),
  );
  const rows = [];
  try {
    await observer.hello();
    await sleep(500);
    const rssStart = rssMb(platform.pid);
    for (let run = 1; run <= o.repeat; run++) {
      rows.push({ ...(await storm(variant, platform, observer, configPath, valid)), run, rssStartMb: Math.round(rssStart) });
    }
  } finally {
    observer.close();
    await platform.stop();
    await rm(home, { recursive: true, force: true });
  }
  return rows;
}

/** One storm on a running platform: the storm child, the valid client in the middle, RSS around it. */
async function storm(variant, platform, observer, configPath, valid) {
  const rssBefore = rssMb(platform.pid);
  const before = await observer.stats();
  let rssPeak = rssBefore;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, rssMb(platform.pid));
  }, 100);
  const child = startChild('storm-clients', join(root, 'tools/bench/lib/storm-clients.mjs'), [configPath]);
  const limitMs = o['time-limit'] * 1000;
  try {
    // The valid client starts in the middle: half the storm welcomed (concurrent, short) or every connect issued (abrupt, unknown).
    const middle =
      variant === 'unknown' || variant === 'abrupt'
        ? child.line((l) => l.event === 'started', limitMs)
        : child.line((l) => l.event === 'progress' && l.welcomed >= o.clients / 2, limitMs);
    const validMs = await middle.then(
      () => validClient(platform, valid, limitMs),
      (err) => {
        process.stderr.write(`storm: ${variant}: the storm never got to its middle: ${err.message}\n`);
        return NaN;
      },
    );
    // Unknown keys are refused after a per-address delay that doubles up to 100 s (docs/protocol.md
    // 5.4): that variant reports what was refused within --unknown-wait instead.
    const doneWithin = variant === 'unknown' ? Math.min(limitMs, o['unknown-wait'] * 1000) : limitMs;
    const done = await child.line((l) => l.event === 'done', doneWithin).catch(() => undefined);
    let lastProgress = {};
    if (done === undefined) await child.line((l) => l.event === 'progress' && ((lastProgress = l), false), 600).catch(() => undefined);
    // concurrent: the clients stay until every peer has been told of every other (VOLTTRON's
    // peerlist add to every known peer: n² messages, paced by the router).
    let peerlistMs = null;
    if (variant === 'concurrent' && done !== undefined) {
      const from = performance.now();
      for (const stop = Date.now() + limitMs; Date.now() < stop; await sleep(250)) {
        if ((await observer.stats()).router.peerlistBacklog === 0) {
          peerlistMs = Math.round(performance.now() - from + done.allMs);
          break;
        }
      }
    }
    await child.stop();
    // The storm clients are gone: wait until the router has dropped them all, then let it settle.
    const deadline = Date.now() + limitMs;
    while (Date.now() < deadline && (await observer.stats()).router.peers > before.router.peers) await sleep(250);
    await sleep(o['settle-ms']);
    const after = await observer.stats();
    return {
      variant,
      clients: variant === 'abrupt' ? o.burst : o.clients,
      welcomed: done?.welcomed ?? lastProgress.welcomed ?? 0,
      refused: done?.refused ?? lastProgress.refused ?? 0,
      allMs: done?.allMs ?? null,
      latencyMs: done?.latencyMs ?? null,
      validMs: Number.isFinite(validMs) ? Math.round(validMs) : null,
      peerlistMs,
      rssMb: { before: Math.round(rssBefore), peak: Math.round(rssPeak), after: Math.round(rssMb(platform.pid)) },
      delivered: after.transport.delivered - before.transport.delivered,
      peersAfter: after.router.peers,
      memoryMb: after.memory ? Object.fromEntries(Object.entries(after.memory).map(([k, v]) => [k, Math.round(v / 2 ** 20)])) : null,
      attribution: after.transport.attribution ?? null,
      admissionTieMaxMs: after.transport.admissionTieMaxMs ?? null,
      peerlist: after.router.counters
        ? Object.fromEntries(Object.entries(after.router.counters).filter(([k]) => k.startsWith('peerlist')))
        : null,
    };
  } finally {
    clearInterval(sampler);
    await child.stop();
  }
}

const rows = [];
for (const variant of o.variants
  .split(',')
  .map((v) => v.trim())
  .filter(Boolean)) {
  for (const r of await runVariant(variant)) {
    console.log(JSON.stringify({ bench: 'storm', ...r }));
    rows.push(r);
  }
}
const cell = (r) => ({
  variant: o.repeat > 1 ? `${r.variant} #${r.run}` : r.variant,
  clients: r.clients,
  done: `${r.welcomed} / ${r.refused}`,
  allMs: r.allMs === null ? (r.variant === 'unknown' ? `> ${o['unknown-wait']} s` : `> ${o['time-limit']} s`) : r.allMs,
  latency: r.latencyMs ? `${r.latencyMs.p50} / ${r.latencyMs.p99}` : 'n/a',
  validMs: r.validMs === null ? 'not welcomed' : r.validMs,
  peerlistMs: r.peerlistMs ?? '',
  rss: `${r.rssMb.before} / ${r.rssMb.peak} / ${r.rssMb.after}`,
  delivered: r.delivered,
});
console.log(
  formatTable(rows.map(cell), [
    { key: 'variant', title: 'variant', align: 'left' },
    { key: 'clients', title: 'clients' },
    { key: 'done', title: 'welcomed / refused' },
    { key: 'allMs', title: 'all done ms' },
    { key: 'latency', title: 'welcome p50 / p99 ms' },
    { key: 'validMs', title: 'valid client ms' },
    { key: 'peerlistMs', title: 'all peerlists told ms' },
    { key: 'rss', title: 'RSS MB before / peak / after' },
    { key: 'delivered', title: 'router sends' },
  ]),
);
