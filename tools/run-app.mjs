// `npm start` and `npm run vipctl`: build one app from source and run it in this process.
//   node tools/run-app.mjs platform|vipctl [app arguments...]
// One esbuild bundle of apps/<app> with the @vip packages it imports (resolved to their src/ by the
// tsconfig paths, as under vitest: no package build, no type declarations, no Nx; well under a
// second), its third-party dependencies left to node_modules. Silent unless the build fails; then
// the errors and exit 1. The full build (ESM + CJS + .d.ts of every package) stays with
// `npm run build`, `npm test` and releases.
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, formatMessages, stop as stopEsbuild } from 'esbuild';

const APPS = ['platform', 'vipctl'];
const app = process.argv[2];
if (!APPS.includes(app)) {
  process.stderr.write(`usage: node tools/run-app.mjs ${APPS.join('|')} [arguments...]\n`);
  process.exit(2);
}
const root = fileURLToPath(new URL('..', import.meta.url));
// Beside the app, so its third-party imports resolve as the app's own do: from apps/<app>/node_modules
// first (a version only the app depends on, e.g. vipctl's commander, lives there, not at the root).
const outfile = `${root}apps/${app}/node_modules/.cache/vip-run-app/${app}.mjs`;
const { dependencies } = JSON.parse(readFileSync(`${root}apps/${app}/package.json`, 'utf8'));

try {
  await build({
    absWorkingDir: root,
    entryPoints: [`apps/${app}/src/main.ts`],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    tsconfig: 'tsconfig.base.json',
    external: Object.keys(dependencies).filter((name) => !name.startsWith('@vip/')),
    sourcemap: true,
    logLevel: 'silent',
  });
} catch (err) {
  const errors = Array.isArray(err?.errors) ? err.errors : [];
  if (errors.length === 0) throw err;
  const text = await formatMessages(errors, { kind: 'error', color: process.stderr.isTTY });
  process.stderr.write(`${app} does not build:\n${text.join('')}`);
  process.exit(1);
}
// esbuild keeps a service process for further builds: none will come.
await stopEsbuild();
// The app reads process.argv.slice(2): drop the app name so it sees only its own arguments.
process.argv.splice(2, 1);
process.setSourceMapsEnabled(true);
await import(pathToFileURL(outfile).href);
