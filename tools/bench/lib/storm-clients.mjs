#!/usr/bin/env node
// The storm itself, as a child of tools/bench/storm.mjs: opens one CURVE DEALER per entry of
// a JSON file at once (raw VIP clients: hello as soon as the handshake is done, then read
// whatever the router sends), and reports on stdout, as JSON lines:
//   {event:'started', clients}                  every connect issued
//   {event:'progress', welcomed, refused, ms}   every 250 ms
//   {event:'done', welcomed, refused, total, allMs, latencyMs:{p50,p99,max}}
// Modes: `stay` (connections stay until SIGTERM), `short` (each closes once welcomed; with
// --waves N the whole set connects N times), `abrupt` (each closes 0-abruptMs after it started,
// welcomed or not: mid-handshake, mid-admission, or just after), `unknown` (keys not in
// auth.json: counts refusals).
// Usage: node storm-clients.mjs <config.json>; config {address, serverKey, mode, waves, clients:[{identity, publicKey, secretKey}]}
import { readFileSync } from 'node:fs';
import { Context, Dealer } from 'zeromq';
import { receiveEach } from './receive-each.mjs';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
// Each DEALER is a socket, and its event monitor (unknown mode only) another.
const context = new Context({ maxSockets: Math.max(4096, 3 * config.clients.length), ioThreads: 1 });
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const t0 = performance.now();
const latencies = [];
let welcomed = 0;
let refused = 0;
let closed = 0;
const live = new Set();

function open(client) {
  const started = performance.now();
  const d = new Dealer({
    context,
    routingId: client.identity,
    linger: 0,
    sendTimeout: 0,
    curveServerKey: config.serverKey,
    curvePublicKey: client.publicKey,
    curveSecretKey: client.secretKey,
  });
  live.add(d);
  if (config.mode === 'unknown') {
    d.events.on('handshake:error:auth', () => {
      refused += 1;
      close(d);
    });
  }
  d.connect(config.address);
  void d.send(['', 'VIP1', '', `hello.${client.identity}`, 'hello', 'hello']).catch(() => undefined);
  if (config.mode === 'abrupt') setTimeout(() => close(d), Math.random() * (config.abruptMs ?? 200));
  return receiveEach(d, (f) => {
    if (f[4]?.toString() !== 'hello' || f[5]?.toString() !== 'welcome') return false;
    welcomed += 1;
    latencies.push(performance.now() - started);
    if (config.mode !== 'short') return false;
    close(d);
    return true;
  });
}

function close(d) {
  if (!live.delete(d)) return;
  closed += 1;
  d.close();
}

const ticker = setInterval(() => out({ event: 'progress', welcomed, refused, ms: Math.round(performance.now() - t0) }), 250);
process.once('SIGTERM', () => {
  for (const d of [...live]) close(d);
  clearInterval(ticker);
  setTimeout(() => process.exit(0), 50);
});

const total = config.clients.length * (config.mode === 'short' ? (config.waves ?? 1) : 1);
const expected = () => (config.mode === 'unknown' ? refused : config.mode === 'abrupt' ? closed : welcomed);
for (let wave = 0; wave < (config.mode === 'short' ? (config.waves ?? 1) : 1); wave++) {
  const loops = config.clients.map(open);
  if (wave === 0) out({ event: 'started', clients: config.clients.length });
  if (config.mode === 'short') await Promise.all(loops);
}
while (expected() < total) await new Promise((r) => setTimeout(r, 20));
const sorted = [...latencies].sort((a, b) => a - b);
const pct = (p) => (sorted.length ? Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]) : null);
out({
  event: 'done',
  welcomed,
  refused,
  total,
  allMs: Math.round(performance.now() - t0),
  latencyMs: { p50: pct(0.5), p99: pct(0.99), max: pct(1) },
});
