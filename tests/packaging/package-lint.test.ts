// Each package as a registry would receive it (npm pack), checked by publint (strict) and
// @arethetypeswrong/cli, plus the manifest rules of issue 11 that neither tool knows.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRun, publishedPackages, ROOT, run, workspacePackages, type WorkspacePackage } from './workspace.js';

const packages = publishedPackages();
const versions = new Map(workspacePackages().map((p) => [p.manifest.name, p.manifest.version]));
const rootManifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { repository?: { url?: string } };
let packDir: string;
const tarballs = new Map<string, string>();

beforeAll(async () => {
  packDir = await mkdtemp(join(tmpdir(), 'vip-pack-'));
});
afterAll(async () => {
  if (packDir) await rm(packDir, { recursive: true, force: true });
});

/** The package as `npm pack` makes it (what `npm publish` sends). */
async function tarball(pkg: WorkspacePackage): Promise<string> {
  const known = tarballs.get(pkg.dir);
  if (known) return known;
  const r = await run('npm', ['pack', '--json', '--pack-destination', packDir, `./${pkg.dir}`], { cwd: ROOT });
  expect(r.code, describeRun('npm pack', r)).toBe(0);
  const [info] = JSON.parse(r.stdout) as [{ filename: string }];
  const path = join(packDir, info.filename);
  tarballs.set(pkg.dir, path);
  return path;
}

it('the release publishes the nine packages and the two CLIs, not @vip/testing', () => {
  expect(packages.map((p) => p.manifest.name).sort()).toEqual([
    '@vip/agent',
    '@vip/auth',
    '@vip/config-store',
    '@vip/keydiscovery',
    '@vip/platform',
    '@vip/protocol',
    '@vip/proxy-router',
    '@vip/pubsub',
    '@vip/rmq',
    '@vip/router',
    '@vip/vipctl',
    '@vip/zmq',
  ]);
  expect(workspacePackages().find((p) => p.manifest.name === '@vip/testing')?.manifest.private).toBe(true);
});

describe.each(packages.map((p) => [p.manifest.name, p] as const))('%s', (_name, pkg) => {
  it('publint --strict finds nothing', async () => {
    const { messages, pkg: manifest } = await publint({ pkgDir: pkg.path, strict: true, pack: 'npm' });
    const errors = messages
      .filter((m) => m.type === 'error')
      .map((m) => `${m.code}: ${formatMessage(m, manifest, { color: false }) ?? ''}`);
    expect(errors).toEqual([]);
  });

  it('arethetypeswrong finds no problem (node10, node16 CJS and ESM, bundler)', async () => {
    const r = await run(join(ROOT, 'node_modules/.bin/attw'), [await tarball(pkg), '--format', 'json'], { cwd: ROOT, timeoutMs: 120_000 });
    expect(r.code, describeRun('attw', r)).toBe(0);
    const report = JSON.parse(r.stdout) as { analysis: { types: unknown }; problems?: Record<string, unknown> };
    expect(report.problems ?? {}).toEqual({});
    // Libraries ship types for every entry; the CLIs have none to ship.
    if (pkg.dir.startsWith('packages/')) expect(report.analysis.types).toMatchObject({ kind: 'included' });
  });

  it('manifest: license, LICENSE, repository, engines, publishConfig, files, sibling ranges', async () => {
    const m = pkg.manifest as Record<string, any>;
    expect(m.license).toBe('Apache-2.0');
    expect(await readFile(join(pkg.path, 'LICENSE'), 'utf8')).toBe(await readFile(join(ROOT, 'LICENSE'), 'utf8'));
    expect(m.repository).toEqual({ type: 'git', url: rootManifest.repository?.url, directory: pkg.dir });
    expect(m.engines).toEqual({ node: '>=20' });
    expect(m.publishConfig).toEqual({ access: 'public' });
    expect(m.files).toContain('dist');
    // A sibling is a semver range on its current version: installable from a registry, linked in the workspace.
    for (const [dep, range] of Object.entries({ ...m.dependencies, ...m.peerDependencies } as Record<string, string>)) {
      if (dep.startsWith('@vip/')) expect(range, `${dep} in ${pkg.dir}`).toBe(`^${versions.get(dep)}`);
    }
    expect(Object.keys(m.dependencies ?? {})).not.toContain('@vip/testing');
  });
});

describe('@vip/agent', () => {
  const agent = packages.find((p) => p.manifest.name === '@vip/agent')!.manifest as Record<string, any>;
  it('needs neither zeromq nor amqplib unless its entry is used: both optional peers, neither a dependency', () => {
    expect(agent.peerDependenciesMeta).toEqual({ zeromq: { optional: true }, amqplib: { optional: true } });
    for (const name of ['zeromq', 'amqplib']) expect(Object.keys(agent.dependencies)).not.toContain(name);
    for (const transport of ['@vip/zmq', '@vip/rmq']) {
      const m = packages.find((p) => p.manifest.name === transport)!.manifest as Record<string, any>;
      const native = transport === '@vip/zmq' ? 'zeromq' : 'amqplib';
      expect(m.dependencies[native], `${transport} must not pull ${native}`).toBeUndefined();
      expect(m.peerDependenciesMeta[native]).toEqual({ optional: true });
    }
  });

  it('CommonJS: one copy of each class, so createZmqAgent() is instanceof Agent under require', async () => {
    const script = [
      "const { Agent } = require('@vip/agent');",
      "const { createZmqAgent } = require('@vip/agent/zmq');",
      "const { createRmqAgent } = require('@vip/agent/rmq');",
      "const { curveKeyPair } = require('zeromq');",
      '(async () => {',
      '  const me = curveKeyPair();',
      "  const zmq = await createZmqAgent({ identity: 'x', address: 'tcp://127.0.0.1:9', serverKey: curveKeyPair().publicKey, publicKey: me.publicKey, secretKey: me.secretKey });",
      "  const rmq = createRmqAgent({ identity: 'x', rmq: { url: 'amqp://127.0.0.1:9', instanceName: 'i' }, management: false });",
      '  console.log(JSON.stringify({ zmq: zmq instanceof Agent, rmq: rmq instanceof Agent }));',
      '})();',
    ].join('\n');
    const r = await run(process.execPath, ['-e', script], { cwd: join(ROOT, 'packages/agent') });
    expect(r.code, describeRun('node -e', r)).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ zmq: true, rmq: true });
  });
});

describe('@vip/protocol', () => {
  it('the main entry is what a user needs: the zod schemas are in @vip/protocol/internal (ESM and CommonJS)', async () => {
    const script = [
      "const main = require('@vip/protocol');",
      "const internal = require('@vip/protocol/internal');",
      'console.log(JSON.stringify({ main: Object.keys(main), internal: Object.keys(internal) }));',
    ].join('\n');
    const r = await run(process.execPath, ['-e', script], { cwd: join(ROOT, 'packages/agent') });
    expect(r.code, describeRun('node -e', r)).toBe(0);
    const { main, internal } = JSON.parse(r.stdout) as { main: string[]; internal: string[] };
    expect(main.filter((name) => /Schema$/.test(name))).toEqual([]);
    expect(main).toContain('parseSubscribeRequest');
    expect(internal).toEqual(
      expect.arrayContaining([
        'CapabilitiesSchema',
        'CapabilityMapSchema',
        'instanceNameSchema',
        'SubscribeRequestSchema',
        'RpcRequestSchema',
      ]),
    );
    expect(internal.filter((name) => !/Schema$/.test(name))).toEqual([]);
    const esm = await import('@vip/protocol/internal');
    expect(Object.keys(esm).sort()).toEqual([...internal].sort());
  });
});

describe('@vip/rmq', () => {
  /**
   * Which files of @vip/rmq's dist a `require` of `entries` loads, and which of them hold the
   * management client (the chunk names are hashes: the class is what identifies it).
   */
  async function loadedRmqFiles(entries: readonly string[]): Promise<{ files: string[]; admin: string[] }> {
    const script = [
      "const { readFileSync, realpathSync } = require('node:fs');",
      `for (const e of ${JSON.stringify(entries)}) require(e);`,
      "const dist = realpathSync(require.resolve('@vip/rmq')).replace(/index\\.cjs$/, '');",
      'const files = Object.keys(require.cache).map((f) => realpathSync(f)).filter((f) => f.startsWith(dist));',
      'const client = /\\b(RabbitMqManagement|HttpClient) = class\\b|class (RabbitMqManagement|HttpClient)\\b/;',
      "const admin = files.filter((f) => client.test(readFileSync(f, 'utf8')));",
      'console.log(JSON.stringify({ files: files.map((f) => f.slice(dist.length)), admin: admin.map((f) => f.slice(dist.length)) }));',
    ].join('\n');
    const r = await run(process.execPath, ['-e', script], { cwd: join(ROOT, 'packages/agent') });
    expect(r.code, describeRun('node -e', r)).toBe(0);
    return JSON.parse(r.stdout) as { files: string[]; admin: string[] };
  }

  it('an agent that only talks to the broker does not load the management client (@vip/rmq, @vip/rmq/pubsub, @vip/agent/rmq)', async () => {
    const agent = await loadedRmqFiles(['@vip/agent/rmq']);
    expect(agent.files).toEqual(expect.arrayContaining(['index.cjs', 'pubsub.cjs']));
    expect(agent.admin).toEqual([]);
    expect((await loadedRmqFiles(['@vip/rmq', '@vip/rmq/pubsub'])).admin).toEqual([]);
  });

  it('@vip/rmq/admin does (the check can see it)', async () => {
    const admin = await loadedRmqFiles(['@vip/rmq/admin']);
    expect(admin.files).toContain('admin.cjs');
    expect(admin.admin.length).toBeGreaterThan(0);
  });
});
