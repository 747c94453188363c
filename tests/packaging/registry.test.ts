// The packages as a user gets them from a registry: Verdaccio on 127.0.0.1 (tools/registry), the
// release command's publish step publishing every package to it (and its version and changelog
// steps in a dry run), and empty projects installing
// from it: @vip/agent + zeromq (no amqplib in the tree), @vip/agent + amqplib (no zeromq), the
// two CLIs installed globally (and by npx). The README's ten-line agent then runs, ESM and
// CommonJS, against vip-platform started from the installed CLI: on ZeroMQ, and on RabbitMQ
// against the broker at 127.0.0.1:5672. Verdaccio not starting fails the suite: nothing skips.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { transform } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type RunningRegistry } from '../../tools/registry/verdaccio.mjs';
import { cleanEnv, describeRun, publishedPackages, ROOT, run, workspacePackages, type RunResult } from './workspace.js';

const PUBLISHED = publishedPackages().map((p) => p.manifest.name);
const VERSION = publishedPackages()[0]!.manifest.version;
const MANAGEMENT = 'http://127.0.0.1:15672';
const GUEST = `Basic ${Buffer.from('guest:guest').toString('base64')}`;

let registry: RunningRegistry | undefined;
let work: string;
let published: RunResult;
let projects: { zmq: string; rmq: string; cli: string; keydiscovery: string };
const installs = new Map<string, RunResult>();
const cleanups: (() => Promise<unknown>)[] = [];

/** npm with the test registry as its only registry (and its publish token), nothing of the npm test around us. */
function npmEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return cleanEnv({
    npm_config_userconfig: registry!.userconfig,
    npm_config_registry: registry!.url,
    npm_config_update_notifier: 'false',
    ...extra,
  });
}

async function emptyProject(name: string): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'package.json'), `${JSON.stringify({ name, version: '0.0.0', private: true }, null, 2)}\n`);
  return dir;
}

async function install(key: string, cwd: string, args: string[]): Promise<void> {
  const r = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-online', ...args], {
    cwd,
    env: npmEnv(),
    timeoutMs: 300_000,
  });
  installs.set(key, r);
}

function expectInstalled(key: string): void {
  const r = installs.get(key)!;
  expect(r.code, describeRun(`npm install (${key})`, r)).toBe(0);
}

beforeAll(async () => {
  registry = await startRegistry();
  cleanups.push(() => registry!.stop());
  work = await mkdtemp(join(tmpdir(), 'vip-registry-test-'));
  cleanups.push(() => rm(work, { recursive: true, force: true }));
  // The release command's publish step, as `npm run release` runs it after versioning. First
  // release: this registry is new, so nx need not ask it for each package's dist-tag. Without the
  // build it depends on: the builds are there (npm test builds first), and Nx without its daemon
  // would copy every dist/ back from its cache, under the feet of the suites running beside this one.
  const unbuilt = publishedPackages().filter((p) => !existsSync(join(p.path, 'dist')));
  if (unbuilt.length > 0) throw new Error(`build first (npm run build): no dist/ in ${unbuilt.map((p) => p.dir).join(', ')}`);
  published = await run(join(ROOT, 'node_modules/.bin/nx'), ['release', 'publish', '--first-release', '--excludeTaskDependencies'], {
    cwd: ROOT,
    env: npmEnv({ NX_DAEMON: 'false', NX_TUI: 'false', NX_NO_CLOUD: 'true', CI: 'true' }),
    timeoutMs: 400_000,
  });
  if (published.code !== 0) return;
  projects = {
    zmq: await emptyProject('agent-zmq'),
    rmq: await emptyProject('agent-rmq'),
    cli: join(work, 'global'),
    keydiscovery: await emptyProject('keydiscovery'),
  };
  const npxDir = await emptyProject('npx');
  await Promise.all([
    install('zmq', projects.zmq, ['@vip/agent', 'zeromq']),
    install('rmq', projects.rmq, ['@vip/agent', 'amqplib']),
    install('cli', work, ['-g', '--prefix', projects.cli, '@vip/platform', '@vip/vipctl']),
    install('keydiscovery', projects.keydiscovery, ['@vip/keydiscovery']),
    // npx keeps what it fetched under its cache's _npx, by package spec: a cache of its own, or a
    // previous run's @vip/vipctl of the same version would be used instead of this one.
    run('npx', ['--yes', `@vip/vipctl@${VERSION}`, '--version'], {
      cwd: npxDir,
      env: npmEnv({ npm_config_cache: join(work, 'npx-cache') }),
      timeoutMs: 300_000,
    }).then((r) => installs.set('npx', r)),
  ]);
}, 900_000);

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

/** Every package npm installed in the project (`npm ls --all`), by name. */
async function installedNames(cwd: string): Promise<Set<string>> {
  const r = await run('npm', ['ls', '--all', '--json'], { cwd, env: npmEnv() });
  expect(r.code, describeRun('npm ls --all', r)).toBe(0);
  type Node = { version?: string; missing?: boolean; dependencies?: Record<string, Node> };
  const names = new Set<string>();
  const walk = (node: Node): void => {
    for (const [name, child] of Object.entries(node.dependencies ?? {})) {
      if (child.missing || child.version === undefined) continue;
      names.add(name);
      walk(child);
    }
  };
  walk(JSON.parse(r.stdout) as Node);
  return names;
}

describe('the release command', () => {
  // Its versioning and changelog steps as `npm run release -- <version> --dry-run` shows them (here,
  // after the publish: two Nx runs at once in one workspace would share its graph cache).
  it('npm run release -- <version> --dry-run: versions, ranges and changelogs of the ten packages, no file written', async () => {
    const next = '99.0.0-dry-run.0';
    const manifests = () => Promise.all(workspacePackages().map((p) => readFile(join(p.path, 'package.json'), 'utf8')));
    const before = await manifests();
    const r = await run('npm', ['run', 'release', '--', next, '--first-release', '--dry-run', '--skip-publish'], {
      cwd: ROOT,
      env: cleanEnv({ NX_DAEMON: 'false', NX_TUI: 'false', NX_NO_CLOUD: 'true', CI: 'true', FORCE_COLOR: '0', NO_COLOR: '1' }),
      timeoutMs: 120_000,
    });
    expect(r.code, describeRun('npm run release -- --dry-run', r)).toBe(0);
    const out = r.stdout.replace(/\u001b\[[0-9;]*m/g, '');
    const has = (text: string) => out.includes(text);
    for (const pkg of publishedPackages()) {
      expect(has(`New version ${next} written to manifest: ${pkg.dir}/package.json`), `${pkg.dir} version`).toBe(true);
      expect(has(`Previewing an entry in ${pkg.dir}/CHANGELOG.md for v${next}`), `${pkg.dir} changelog`).toBe(true);
      for (const dep of Object.keys(pkg.manifest.dependencies ?? {}).filter((d) => d.startsWith('@vip/'))) {
        expect(has(`+     "${dep}": "^${next}"`), `${pkg.dir} -> ${dep} range`).toBe(true);
      }
    }
    expect(has('packages/testing/package.json'), '@vip/testing untouched').toBe(false);
    expect(await manifests()).toEqual(before);
  });

  it('the release command published every package at the workspace version, and not @vip/testing', async () => {
    expect(published.code, describeRun('nx release publish', published)).toBe(0);
    for (const name of PUBLISHED) {
      const res = await fetch(new URL(name.replace('/', '%2f'), registry!.url));
      expect(res.status, name).toBe(200);
      const doc = (await res.json()) as { 'dist-tags': Record<string, string> };
      expect(doc['dist-tags'].latest, name).toBe(VERSION);
    }
    expect((await fetch(new URL('@vip%2ftesting', registry!.url))).status).toBe(404);
  });
});

describe('installs into empty projects', () => {
  it('@vip/agent + zeromq: zeromq and @vip/zmq in the tree, no amqplib', async () => {
    expectInstalled('zmq');
    const names = await installedNames(projects.zmq);
    for (const name of ['@vip/agent', '@vip/auth', '@vip/protocol', '@vip/zmq', 'zeromq', 'zod']) expect(names, name).toContain(name);
    expect(names).not.toContain('amqplib');
  });

  it('@vip/agent + amqplib: amqplib and @vip/rmq in the tree, no zeromq', async () => {
    expectInstalled('rmq');
    const names = await installedNames(projects.rmq);
    for (const name of ['@vip/agent', '@vip/protocol', '@vip/rmq', 'amqplib', 'zod']) expect(names, name).toContain(name);
    expect(names).not.toContain('zeromq');
    expect(names).not.toContain('cmake-ts');
  });

  it('npm install -g @vip/platform @vip/vipctl: both commands run, --version is the release', async () => {
    expectInstalled('cli');
    for (const bin of ['vip-platform', 'vipctl']) {
      const r = await run(join(projects.cli, 'bin', bin), ['--version'], { cwd: work, env: npmEnv() });
      expect(r.code, describeRun(`${bin} --version`, r)).toBe(0);
      expect(r.stdout.trim()).toBe(VERSION);
    }
  });

  it('@vip/keydiscovery alone: no zeromq, no amqplib; its endpoint serves and its client reads it, ESM and CommonJS', async () => {
    expectInstalled('keydiscovery');
    const names = await installedNames(projects.keydiscovery);
    for (const name of ['@vip/keydiscovery', '@vip/auth', '@vip/protocol', 'zod']) expect(names, name).toContain(name);
    for (const name of ['zeromq', 'amqplib', '@vip/zmq', '@vip/rmq']) expect(names).not.toContain(name);
    const program = [
      "import { fetchDiscovery, serveDiscovery } from '@vip/keydiscovery';",
      "const serverKey = 'j9fnuE8dSGORN6VChNRDKa7sDvnIrXhAMYYu_HG-j1c';",
      "const info = { instanceName: 'siteA', vipAddress: 'tcp://127.0.0.1:22916', serverKey };",
      "const server = await serveDiscovery({ bindWebAddress: 'http://127.0.0.1:0', info });",
      'const { info: read } = await fetchDiscovery(server.url);',
      'console.log(JSON.stringify({ name: read.instanceName, same: read.serverKey === serverKey }));',
      'await server.close();',
    ].join('\n');
    const { esm, cjs } = await asModules(program);
    for (const [file, source] of [
      ['discover.mjs', esm],
      ['discover.cjs', cjs],
    ] as const) {
      await writeFile(join(projects.keydiscovery, file), source);
      const r = await run(process.execPath, [file], { cwd: projects.keydiscovery, env: npmEnv(), timeoutMs: 60_000 });
      expect(r.code, describeRun(`node ${file}`, r)).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ name: 'siteA', same: true });
    }
  });

  it('npx @vip/vipctl runs without an install', () => {
    const r = installs.get('npx')!;
    expect(r.code, describeRun('npx @vip/vipctl --version', r)).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
  });
});

/** A README code block after `<!-- readme-agent:NAME`. */
async function readmeBlock(name: string): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(`<!-- readme-agent:${name}`);
  expect(at, `README block readme-agent:${name}`).toBeGreaterThanOrEqual(0);
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  expect(block, `code after readme-agent:${name}`).not.toBeNull();
  return block![1]!;
}

/** The README's agent for a bus, plus one line that checks the class identity of what it got. */
async function readmeAgent(bus: 'zmq' | 'rmq'): Promise<string> {
  const zmq = await readmeBlock('zmq');
  const lines = zmq.split('\n');
  const connect = lines.findIndex((l) => l.includes('connectZmqAgent('));
  expect(connect).toBeGreaterThan(0);
  const code = bus === 'zmq' ? zmq : `${await readmeBlock('rmq')}${lines.slice(connect + 1).join('\n')}`;
  return `${code}\nimport { Agent as ReadmeAgentClass } from '@vip/agent';\nconsole.log('instanceof Agent:', agent instanceof ReadmeAgentClass);\n`;
}

/** The same program as ESM (types stripped) and as CommonJS (imports made requires, the rest in an async function). */
async function asModules(code: string): Promise<{ esm: string; cjs: string }> {
  const esm = (await transform(code, { loader: 'ts', format: 'esm', target: 'node20' })).code;
  const requires: string[] = [];
  const body = code.split('\n').filter((line) => {
    const m = /^import \{ (.+) \} from '([^']+)';$/.exec(line.trim());
    if (!m) return true;
    requires.push(`const { ${m[1]!.replace(/ as /g, ': ')} } = require('${m[2]}');`);
    return false;
  });
  const wrapped = `${requires.join('\n')}\n(async () => {\n${body.join('\n')}\n})().catch((err) => { console.error(err); process.exit(1); });\n`;
  const cjs = (await transform(wrapped, { loader: 'ts', target: 'node20' })).code;
  return { esm, cjs };
}

/** vip-platform from the global install, HOME set so ~/.vip is the test's. */
class InstalledPlatform {
  readonly events: Record<string, unknown>[] = [];
  readonly stderr: string[] = [];
  readonly #child: ChildProcess;
  readonly #exited: Promise<number | null>;
  ready: Record<string, unknown> | undefined;

  constructor(home: string, args: string[]) {
    this.#child = spawn(join(projects.cli, 'bin', 'vip-platform'), args, {
      cwd: home,
      env: npmEnv({ HOME: home }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#exited = new Promise((resolve) => this.#child.once('exit', (code) => resolve(code)));
    createInterface({ input: this.#child.stdout! }).on('line', (line) => {
      const json = parseJson(line);
      if (json?.event === 'ready') this.ready = json;
    });
    createInterface({ input: this.#child.stderr! }).on('line', (line) => {
      this.stderr.push(line);
      const json = parseJson(line);
      if (json) this.events.push(json);
    });
  }

  /** Wait (bounded) for a condition on what the platform printed; a deadline hit fails with its stderr. */
  async until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.#exited.then(() => (exited = true));
    while (!check()) {
      if (exited) throw new Error(`vip-platform exited while waiting for ${what}:\n${this.stderr.slice(-30).join('\n')}`);
      if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms:\n${this.stderr.slice(-30).join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<number | null> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 10_000);
    const code = await this.#exited;
    clearTimeout(timer);
    return code;
  }
}

function parseJson(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

async function vipctl(home: string, args: string[]): Promise<RunResult> {
  const r = await run(join(projects.cli, 'bin', 'vipctl'), args, { cwd: home, env: npmEnv({ HOME: home }), timeoutMs: 60_000 });
  expect(r.code, describeRun(`vipctl ${args.join(' ')}`, r)).toBe(0);
  return r;
}

/** Run the README agent of `bus` as agent.mjs and agent.cjs in its project; both must print the RPC result, a count and `instanceof Agent: true`. */
async function runReadmeAgent(bus: 'zmq' | 'rmq', home: string): Promise<void> {
  const project = projects[bus];
  const { esm, cjs } = await asModules(await readmeAgent(bus));
  for (const [file, source] of [
    ['agent.mjs', esm],
    ['agent.cjs', cjs],
  ] as const) {
    await writeFile(join(project, file), source);
    const r = await run(process.execPath, [file], { cwd: project, env: npmEnv({ HOME: home }), timeoutMs: 60_000 });
    expect(r.code, describeRun(`node ${file} (${bus})`, r)).toBe(0);
    const out = r.stdout.split('\n');
    expect(out, `${file} (${bus}) stdout`).toContain('{ ok: true, value: 21 }');
    expect(out, `${file} (${bus}): publish resolves to the subscriber count`).toContain('1');
    expect(out, `${file} (${bus}) stdout`).toContain('instanceof Agent: true');
  }
}

describe('the README agent against vip-platform from the registry', () => {
  it('ZeroMQ (CURVE, vipctl auth add): ESM and CommonJS', async () => {
    expectInstalled('zmq');
    expectInstalled('cli');
    const home = await mkdtemp(join(work, 'home-zmq-'));
    const platform = new InstalledPlatform(home, ['--vip-address', 'tcp://127.0.0.1:*']);
    cleanups.push(() => platform.stop());
    await platform.until('ready line', () => platform.ready !== undefined);
    expect(platform.ready).toMatchObject({ bus: 'zmq', home: join(home, '.vip') });
    expect(platform.stderr.some((l) => l.startsWith('vip-platform ready: tcp://127.0.0.1:') && l.includes('vipctl auth add'))).toBe(true);
    const allowed = () => Math.max(0, ...platform.events.filter((e) => e.event === 'auth.reloaded').map((e) => Number(e.allow)));
    const before = allowed();
    await vipctl(home, ['auth', 'add', '--identity', 'thermostat']);
    await platform.until('auth.json reload admitting thermostat', () => allowed() > before);
    await runReadmeAgent('zmq', home);
    expect(await platform.stop()).toBe(0);
  });

  it('RabbitMQ (own broker user from vipctl auth add): ESM and CommonJS', async () => {
    expectInstalled('rmq');
    expectInstalled('cli');
    const instance = `vipreg-${randomBytes(4).toString('hex')}`;
    cleanups.push(async () => {
      // the instance's vhost and every broker user named after it (agents', and the platform's own if it made one)
      const users = (await (await fetch(`${MANAGEMENT}/api/users`, { headers: { authorization: GUEST } })).json()) as { name: string }[];
      const paths = [
        ...users.filter((u) => u.name.startsWith(`${instance}.`)).map((u) => `users/${encodeURIComponent(u.name)}`),
        `vhosts/${encodeURIComponent(instance)}`,
      ];
      for (const path of paths) await fetch(`${MANAGEMENT}/api/${path}`, { method: 'DELETE', headers: { authorization: GUEST } });
    });
    const home = await mkdtemp(join(work, 'home-rmq-'));
    const platform = new InstalledPlatform(home, ['--message-bus', 'rmq', '--instance-name', instance]);
    cleanups.push(() => platform.stop());
    await platform.until('ready line', () => platform.ready !== undefined);
    expect(platform.ready).toMatchObject({ bus: 'rmq', instance });
    await vipctl(home, ['auth', 'add', '--identity', 'thermostat']);
    await runReadmeAgent('rmq', home);
    await vipctl(home, ['auth', 'remove', '--identity', 'thermostat']);
    expect(await platform.stop()).toBe(0);
  });
});
