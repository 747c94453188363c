#!/usr/bin/env node
// One test layout (docs/ARCHITECTURE.md, "Tests"): a package's tests live in its test/ folder,
// never in src/. This moves each `src/**/<name>.test.ts` of the projects named on the command line
// to `test/**/<name>.test.ts` (same sub-folder, so paths like new URL('../../fixtures', ...) keep
// their depth), rewrites its relative imports to reach the same files from there (`./x.js` ->
// `../src/x.js`), and moves its vitest snapshot file along. Uses `git mv` so history follows.
//
// Usage: node tools/boundaries/move-unit-tests.mjs packages/agent apps/vipctl ...
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { specifiersOf } from './check-imports.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function testsUnder(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === '__snapshots__' ? [] : testsUnder(path);
    return e.name.endsWith('.test.ts') ? [path] : [];
  });
}

const posix = (p) => p.split(sep).join('/');
const git = (...args) => execFileSync('git', args, { cwd: ROOT, stdio: 'inherit' });

let moved = 0;
for (const project of process.argv.slice(2)) {
  const src = join(ROOT, project, 'src');
  for (const from of testsUnder(src)) {
    const to = join(ROOT, project, 'test', relative(src, from));
    if (existsSync(to)) throw new Error(`${relative(ROOT, to)} exists already: rename one of the two tests first`);
    let text = readFileSync(from, 'utf8');
    for (const { specifier } of specifiersOf(from, text)) {
      if (!specifier.startsWith('.')) continue;
      let next = posix(relative(dirname(to), resolve(dirname(from), specifier)));
      if (!next.startsWith('.')) next = `./${next}`;
      for (const q of ["'", '"']) text = text.split(`${q}${specifier}${q}`).join(`${q}${next}${q}`);
    }
    mkdirSync(dirname(to), { recursive: true });
    git('mv', relative(ROOT, from), relative(ROOT, to));
    writeFileSync(to, text);
    const snapshot = join(dirname(from), '__snapshots__', `${from.slice(dirname(from).length + 1)}.snap`);
    if (existsSync(snapshot)) {
      mkdirSync(join(dirname(to), '__snapshots__'), { recursive: true });
      git('mv', relative(ROOT, snapshot), relative(ROOT, join(dirname(to), '__snapshots__', `${to.slice(dirname(to).length + 1)}.snap`)));
    }
    moved++;
  }
}
console.log(`moved ${moved} test file(s) from src/ to test/`);
