#!/usr/bin/env node
// Router memory under the cases of issue 10 item 9, each on a fresh platform process (tcp + CURVE),
// RSS read from /proc/<pid>/status (VmRSS now, VmHWM = peak):
//   stalled   a peer that never reads; another sends it --messages of --size bytes, paced by a
//             router round trip every 10; then the peer leaves: start, peak, error 11 count, and
//             RSS once it settles after the leave
//   frame     one 50 MB frame (over the 4 MiB message limit): RSS before, peak after
//   frames    one message of 50 x 4 MiB frames: RSS before, peak, RSS once it settles
// --malloc off starts the platform without MALLOC_MMAP_THRESHOLD_ (glibc's dynamic threshold) to
// show what bin/vip-platform changes. Build first: `npm run build`. Prints a table and JSON lines.
import { readFileSync } from 'node:fs';
import { Dealer } from 'zeromq';
import { generateKeyPair, keyToZ85 } from '@vip/protocol';
import { openRawClient, startPlatform } from '@vip/testing';
import { parseBenchArgs } from '../bench/lib/args.mjs';

const o = parseBenchArgs(
  {
    messages: { type: 'number', default: 1500, help: 'messages sent to the stalled peer' },
    size: { type: 'number', default: 1_000_000, help: 'bytes per message to the stalled peer' },
    malloc: { type: 'string', default: 'on', help: 'on: MALLOC_MMAP_THRESHOLD_=131072 (as bin/vip-platform); off: glibc default' },
    cases: { type: 'string', default: 'stalled,frame,frames', help: 'which cases, comma-separated' },
    'platform-args': { type: 'string', default: '', help: 'extra platform flags, space-separated' },
  },
  { usage: 'node tools/soak/router-memory.mjs [options]' },
);

const MiB = 1024 * 1024;
const mb = (b) => Math.round(b / MiB);
function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (f) => Number(new RegExp(`^${f}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function platform() {
  // undefined: spawn leaves the variable out (the launcher sets it, as bin/vip-platform does)
  const env = o.malloc === 'off' ? { MALLOC_MMAP_THRESHOLD_: undefined } : {};
  return startPlatform({ instanceName: 'memsoak', env, args: o['platform-args'].split(' ').filter(Boolean) });
}

let pings = 0;
/** Round trip through the router; returns how many error 11 replies came before the pong. */
async function ping(c) {
  const id = `p${++pings}`;
  await c.sendVip('', 'ping', ['ping'], { id });
  let errors11 = 0;
  for (;;) {
    const f = await c.receive({ timeoutMs: 30_000 });
    if (f[3]?.toString() === id) return errors11;
    if (f[4]?.toString() === 'error' && f[5]?.toString() === '11') errors11++;
  }
}

/** RSS once it stops falling (three samples 1 s apart within 2 MiB), at most `maxMs`. */
async function settled(pid, c, maxMs = 20_000) {
  const end = Date.now() + maxMs;
  const samples = [];
  while (Date.now() < end) {
    await ping(c);
    samples.push(memoryOf(pid).rss);
    const last = samples.slice(-3);
    if (last.length === 3 && Math.max(...last) - Math.min(...last) < 2 * MiB) break;
    await sleep(1000);
  }
  return samples.at(-1);
}

async function stalledCase() {
  const p = await platform();
  try {
    const keys = generateKeyPair();
    await p.authorize(keys.public, { identity: 'soak.stalled' });
    const stalled = new Dealer({
      routingId: 'soak.stalled',
      receiveHighWaterMark: 1,
      receiveBufferSize: 64 * 1024,
      linger: 0,
      curveServerKey: keyToZ85(p.serverkey),
      curvePublicKey: keyToZ85(keys.public),
      curveSecretKey: keyToZ85(keys.secret),
    });
    stalled.connect(p.tcpAddress);
    await stalled.send(['', 'VIP1', '', 'h', 'hello', 'hello']);
    await stalled.receive();
    const sender = await openRawClient(p, 'soak.sender');
    await ping(sender);
    const start = memoryOf(p.pid).rss;
    const payload = Buffer.alloc(o.size, 0x61);
    let errors11 = 0;
    const t0 = Date.now();
    for (let i = 0; i < o.messages; i++) {
      await sender.sendVip('soak.stalled', 'RPC', [payload], { id: `m${i}` });
      if (i % 10 === 9) errors11 += await ping(sender);
    }
    errors11 += await ping(sender);
    const flood = memoryOf(p.pid);
    stalled.close();
    await sleep(500);
    const after = await settled(p.pid, sender);
    await sender.close();
    return {
      case: 'stalled',
      messages: o.messages,
      size: o.size,
      seconds: (Date.now() - t0) / 1000,
      startMiB: mb(start),
      peakMiB: mb(flood.peak),
      endOfFloodMiB: mb(flood.rss),
      errors11,
      afterLeaveMiB: mb(after),
    };
  } finally {
    await p.close();
  }
}

async function frameCase() {
  const p = await platform();
  try {
    const big = await openRawClient(p, 'soak.big');
    const other = await openRawClient(p, 'soak.other');
    await ping(other);
    const before = memoryOf(p.pid);
    const handshakes = big.handshakes;
    await big.sendVip('soak.other', 'RPC', [Buffer.alloc(50 * 1024 * 1024, 0x62)], { id: 'huge' });
    for (let i = 0; i < 200 && big.handshakes === handshakes; i++) await sleep(50);
    await ping(other);
    const after = memoryOf(p.pid);
    await big.close();
    await other.close();
    return {
      case: 'frame',
      bytes: 50 * 1024 * 1024,
      disconnected: big.handshakes > handshakes,
      startMiB: mb(before.rss),
      peakBeforeMiB: mb(before.peak),
      peakMiB: mb(after.peak),
      afterMiB: mb(after.rss),
    };
  } finally {
    await p.close();
  }
}

async function framesCase() {
  const p = await platform();
  try {
    const sender = await openRawClient(p, 'soak.multi');
    const sink = await openRawClient(p, 'soak.sink');
    await ping(sender);
    const before = memoryOf(p.pid);
    const frame = Buffer.alloc(4 * MiB, 0x63);
    await sender.sendVip(
      'soak.sink',
      'RPC',
      Array.from({ length: 50 }, () => frame),
      { id: 'multi' },
    );
    await ping(sender);
    const peak = memoryOf(p.pid).peak;
    const after = await settled(p.pid, sender);
    await sender.close();
    await sink.close();
    return { case: 'frames', bytes: 50 * 4 * MiB, startMiB: mb(before.rss), peakMiB: mb(peak), afterMiB: mb(after) };
  } finally {
    await p.close();
  }
}

const runs = { stalled: stalledCase, frame: frameCase, frames: framesCase };
const results = [];
for (const name of o.cases.split(',')) {
  const run = runs[name];
  if (!run) throw new Error(`unknown case ${name}`);
  const r = { malloc: o.malloc, ...(await run()) };
  results.push(r);
  process.stdout.write(`${JSON.stringify(r)}\n`);
}
