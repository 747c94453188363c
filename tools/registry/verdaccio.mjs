// A private npm registry (Verdaccio 6.8) on 127.0.0.1 for the packaging tests and for trying a
// release by hand: temporary storage and config, @vip/* served only from here (never proxied),
// every other package proxied from the public registry (zeromq, amqplib, zod...).
//
//   node tools/registry/verdaccio.mjs        starts one, prints its URL and a userconfig with a
//                                            publish token, runs until Ctrl-C (storage removed)
//   node tools/registry/verdaccio.mjs --install   only installs Verdaccio (CI's step before the tests)
//   import { startRegistry } from './tools/registry/verdaccio.mjs'    the same for a test
//
// Verdaccio is not a devDependency (it would add ~40 MB to every install of the workspace): the
// first start installs it with npm into tools/registry/.verdaccio/ (git-ignored) and reuses it.
// 6.8.0 is pinned: 6.9 and later need Node 22.
import { spawn, execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const VERDACCIO_VERSION = '6.8.0';
const INSTALL_DIR = fileURLToPath(new URL('.verdaccio/', import.meta.url));
const BIN = join(INSTALL_DIR, 'node_modules', 'verdaccio', 'bin', 'verdaccio');
const run = promisify(execFile);

/** Thrown when the registry cannot be installed or started: the packaging tests fail on it, never skip. */
export class RegistryStartError extends Error {
  code = 'REGISTRY_START';
}

function installedVersion() {
  const path = join(INSTALL_DIR, 'node_modules', 'verdaccio', 'package.json');
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')).version;
}

/** Install Verdaccio into tools/registry/.verdaccio unless that version is there (install beside, then rename: two runs at once cannot see half an install). */
export async function ensureVerdaccio({ log = () => {} } = {}) {
  if (installedVersion() === VERDACCIO_VERSION) return BIN;
  const staging = `${INSTALL_DIR.replace(/\/$/, '')}.${process.pid}.tmp`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  await writeFile(
    join(staging, 'package.json'),
    `${JSON.stringify({ private: true, description: 'Verdaccio for tools/registry (git-ignored)' })}\n`,
  );
  log(`installing verdaccio@${VERDACCIO_VERSION} into ${INSTALL_DIR}`);
  try {
    await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', `verdaccio@${VERDACCIO_VERSION}`], {
      cwd: staging,
      maxBuffer: 16 << 20,
    });
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw new RegistryStartError(`npm install verdaccio@${VERDACCIO_VERSION} failed: ${err.stderr || err.message}`);
  }
  if (installedVersion() !== VERDACCIO_VERSION) {
    await rm(INSTALL_DIR, { recursive: true, force: true });
    await rename(staging, INSTALL_DIR).catch(() => rm(staging, { recursive: true, force: true }));
  } else {
    await rm(staging, { recursive: true, force: true });
  }
  if (installedVersion() !== VERDACCIO_VERSION)
    throw new RegistryStartError(`verdaccio@${VERDACCIO_VERSION} is not in ${INSTALL_DIR} after installing it`);
  return BIN;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function configYaml(dir, uplink) {
  // JSON is valid YAML: no YAML writer needed.
  return JSON.stringify(
    {
      storage: join(dir, 'storage'),
      auth: { htpasswd: { file: join(dir, 'htpasswd'), max_users: 100 } },
      uplinks: { npmjs: { url: uplink, timeout: '60s', max_fails: 5 } },
      packages: {
        '@vip/*': { access: '$all', publish: '$authenticated', unpublish: '$authenticated' },
        '**': { access: '$all', publish: '$authenticated', proxy: 'npmjs' },
      },
      web: { enable: false },
      log: { type: 'stdout', format: 'json', level: 'warn' },
      server: { keepAliveTimeout: 60 },
    },
    null,
    2,
  );
}

/** The registry npm itself uses here (proxied for third-party packages). */
function defaultUplink() {
  const fromEnv = process.env.VIP_REGISTRY_UPLINK ?? process.env.npm_config_registry;
  return fromEnv && !fromEnv.includes('127.0.0.1') ? fromEnv : 'https://registry.npmjs.org/';
}

/**
 * Start Verdaccio on 127.0.0.1 with a fresh storage, wait until it answers, and register a
 * publisher. Resolves to { url, userconfig, dir, stop() }; `userconfig` is an npmrc with
 * `registry` and the token (npm_config_userconfig for npm publish/install). Rejects with
 * RegistryStartError when it cannot install, start or answer within `startTimeoutMs`.
 */
export async function startRegistry({ uplink = defaultUplink(), startTimeoutMs = 60_000, log = () => {} } = {}) {
  const bin = await ensureVerdaccio({ log });
  const dir = await mkdtemp(join(tmpdir(), 'vip-registry-'));
  const configPath = join(dir, 'config.yaml');
  await writeFile(configPath, configYaml(dir, uplink));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const child = spawn(process.execPath, [bin, '--config', configPath, '--listen', `127.0.0.1:${port}`], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  const output = [];
  const keep = (chunk) => {
    output.push(chunk.toString());
    if (output.length > 200) output.shift();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let stopped;
  const stop = () =>
    (stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(killer);
      }
      await rm(dir, { recursive: true, force: true });
    })());
  const fail = async (why) => {
    await stop();
    throw new RegistryStartError(`Verdaccio ${VERDACCIO_VERSION} on ${url}: ${why}\n${output.join('').slice(-4000)}`);
  };

  const deadline = Date.now() + startTimeoutMs;
  let early;
  exited.then((e) => (early = e));
  for (;;) {
    if (early) return fail(`exited before answering (code ${early.code}, signal ${early.signal})`);
    if (Date.now() > deadline) return fail(`no answer on /-/ping within ${startTimeoutMs} ms`);
    try {
      const res = await fetch(new URL('-/ping', url), { signal: AbortSignal.timeout(2_000) });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  // npm publish needs a token even where anyone may publish: register a user, as `npm adduser` does.
  const user = 'vip-release';
  const res = await fetch(new URL(`-/user/org.couchdb.user:${user}`, url), {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: user, password: `pw-${process.pid}-${Date.now()}`, type: 'user', roles: [] }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok || typeof body.token !== 'string') return fail(`user registration answered ${res.status} ${JSON.stringify(body)}`);
  const userconfig = join(dir, 'npmrc');
  await writeFile(userconfig, `registry=${url}\n//127.0.0.1:${port}/:_authToken=${body.token}\n`, { mode: 0o600 });
  log(`Verdaccio ${VERDACCIO_VERSION} on ${url} (storage ${join(dir, 'storage')}, uplink ${uplink})`);
  return { url, userconfig, dir, stop, output: () => output.join('') };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.argv[2] === '--install') {
  // CI installs it as a step of its own, so a failure says what failed.
  await ensureVerdaccio({ log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`verdaccio ${VERDACCIO_VERSION} in ${INSTALL_DIR}\n`);
} else if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const registry = await startRegistry({ log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`${registry.url}\n`);
  process.stderr.write(`publish: npm_config_userconfig=${registry.userconfig} npx nx release publish --registry ${registry.url}\n`);
  process.stderr.write(`install: npm install --registry ${registry.url} @vip/agent zeromq\nCtrl-C stops it and removes its storage.\n`);
  const bye = () => void registry.stop().then(() => process.exit(0));
  process.once('SIGINT', bye);
  process.once('SIGTERM', bye);
}
