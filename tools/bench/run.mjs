#!/usr/bin/env node
// One command for every benchmark: `npm run bench` (builds first), or `node tools/bench/run.mjs [name...]`.
// Runs each tools/bench/<name>.mjs in its own process, one after another (they compete for the
// same two cores otherwise), and passes through what each prints: its figures next to the
// baseline measured in the same run.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const passThrough = process.argv.slice(2).filter((a) => a.startsWith('-'));
const all = fs
  .readdirSync(here)
  .filter((f) => f.endsWith('.mjs') && f !== 'run.mjs')
  .map((f) => f.replace(/\.mjs$/, ''))
  .sort();
const chosen = wanted.length ? wanted : all;
const unknown = chosen.filter((n) => !all.includes(n));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; available: ${all.join(', ')}`);
  process.exit(2);
}
console.log(
  `machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, ${os.platform()} ${os.release()}`,
);
let failed = 0;
for (const name of chosen) {
  console.log(`\n=== ${name} ===`);
  const r = spawnSync(process.execPath, [path.join(here, `${name}.mjs`), ...passThrough], { stdio: 'inherit', timeout: 15 * 60_000 });
  if (r.status !== 0) {
    failed += 1;
    console.error(`benchmark ${name} failed (exit ${r.status ?? r.signal})`);
  }
}
process.exit(failed ? 1 : 0);
