// vip-platform and vipctl on VOLTTRON's default RabbitMQ mode: amqps, client certificates, SASL EXTERNAL.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '@vip/agent';
import { createRmqAgent } from '@vip/agent/rmq';
import { FAST_RECONNECT } from '@vip/testing';
import { startTlsNode, TLS_CLIENTS, type TlsNode } from '@vip/testing';
import { startPlatform, type PlatformProcess } from '@vip/testing';
import { runVipctl } from './helpers/vipctl.js';

/**
 * The platform process on a private TLS RabbitMQ node (packages/rmq/test/tls-node.ts: amqps only
 * for clients, verify_peer, EXTERNAL, users named after the certificate CNs `inst.router` and
 * `inst.tls-agent`, no management plugin), started once for this file. The platform logs in with
 * the router's certificate; an agent with its own; vipctl with the platform's, found in bus.json.
 */
const MAIN = fileURLToPath(new URL('../../apps/platform/dist/main.js', import.meta.url));
const VIPCTL = fileURLToPath(new URL('../../apps/vipctl/dist/main.js', import.meta.url));
const VHOST = 'volttron-tls-platform';
const INSTANCE = 'inst';
const execFileP = promisify(execFile);

let node: TlsNode;
let dir: string;
/** PEM files on disk: the CA, each client's certificate and key, the foreign client's, a non-PEM file. */
const f = {} as Record<'ca' | 'routerCert' | 'routerKey' | 'agentCert' | 'agentKey' | 'foreignCert' | 'foreignKey' | 'notPem', string>;

beforeAll(async () => {
  node = await startTlsNode(VHOST, [TLS_CLIENTS.router, TLS_CLIENTS.agent]);
  dir = await mkdtemp(join(tmpdir(), 'vip-rmq-tls-'));
  const files: Record<keyof typeof f, string> = {
    ca: node.pem.ca,
    routerCert: node.pem.client.router.cert,
    routerKey: node.pem.client.router.key,
    agentCert: node.pem.client.agent.cert,
    agentKey: node.pem.client.agent.key,
    foreignCert: node.pem.foreignClient.cert,
    foreignKey: node.pem.foreignClient.key,
    notPem: 'this is not a certificate\n',
  };
  for (const [k, text] of Object.entries(files)) {
    f[k as keyof typeof f] = join(dir, `${k}.pem`);
    await writeFile(f[k as keyof typeof f], text, { mode: 0o600 });
  }
}, 120_000);
afterAll(async () => {
  await node?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

/** The platform's broker flags: amqps, the router's certificate, EXTERNAL, no management API. */
function tlsArgs(cert = f.routerCert, key = f.routerKey): string[] {
  return [
    '--message-bus',
    'rmq',
    '--instance-name',
    INSTANCE,
    '--rmq-url',
    node.amqpsUrl,
    '--rmq-vhost',
    VHOST,
    '--rmq-management-url',
    'off',
    '--rmq-ca',
    f.ca,
    '--rmq-cert',
    cert,
    '--rmq-key',
    key,
    '--rmq-external',
    '--rmq-broker-user',
    TLS_CLIENTS.router,
  ];
}

/** Run the platform to completion (it must exit by itself): exit code and output. */
async function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const opts = { env: { ...process.env, VOLTTRON_HOME: '', ...env }, timeout: 30_000 };
  return execFileP(process.execPath, [MAIN, ...args], opts).then(
    (r) => ({ code: 0, ...r }),
    (e: { code?: number | string; stdout?: string; stderr?: string }) => ({
      code: typeof e.code === 'number' ? e.code : null,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? '',
    }),
  );
}

/**
 * What the platform said besides its JSON log lines: exactly one `vip-platform: ...` line, no stack;
 * exit 2 for a bad flag or file (refused before anything starts), 1 for a start that failed.
 */
function expectRefusal(r: { code: number | null; stdout: string; stderr: string }, pattern: RegExp, code: 1 | 2 = 1): void {
  expect(r.code).toBe(code);
  expect(r.stdout).toBe('');
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(
    r.stderr
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('{')),
  ).toEqual([expect.stringMatching(new RegExp(`^vip-platform: .*${pattern.source}`))]);
}

async function vipctl(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return runVipctl(argv);
}

describe('vip-platform on amqps with client certificates and SASL EXTERNAL', () => {
  let platform: PlatformProcess;
  let agent: Agent;

  beforeAll(async () => {
    // the instance/vhost come from tlsArgs (later flags win over startPlatform's defaults)
    platform = await startPlatform({ bus: 'rmq', rmq: { vhost: VHOST, url: node.amqpsUrl }, instanceName: INSTANCE, args: tlsArgs() });
  }, 60_000);
  afterAll(async () => {
    await agent?.close();
    await platform?.close();
  });

  it('is ready; its ready line and bus.json carry no credentials or key material', async () => {
    expect(platform.bus).toBe('rmq');
    expect(platform.addresses).toEqual([`amqps://127.0.0.1:${node.amqpsPort}/${VHOST}`]);
    const busJson = join(platform.home, 'run', 'bus.json');
    expect((await stat(busJson)).mode & 0o777).toBe(0o600);
    const text = await readFile(busJson, 'utf8');
    expect(text).not.toMatch(/BEGIN|PRIVATE/);
    expect(JSON.parse(text)).toMatchObject({
      bus: 'rmq',
      url: node.amqpsUrl,
      vhost: VHOST,
      instance: INSTANCE,
      brokerUser: TLS_CLIENTS.router,
      tls: { ca: f.ca, cert: f.routerCert, key: f.routerKey, external: true },
    });
    expect(platform.stderrTail(200)).not.toMatch(/BEGIN|PRIVATE KEY/);
    // router, control and platform.auth all logged in by certificate
    const conns = await node.ctl('list_connections', '-q', 'user', 'auth_mechanism', 'ssl');
    expect(conns.match(/inst\.router\s+EXTERNAL\s+true/g)?.length ?? 0).toBeGreaterThanOrEqual(3);
  });

  it('welcomes an @vip/agent/rmq agent with its own certificate: ping to the router, RPC to control', async () => {
    agent = createRmqAgent({
      identity: 'tls-agent',
      rmq: {
        url: node.amqpsUrl,
        vhost: VHOST,
        instanceName: INSTANCE,
        reconnect: FAST_RECONNECT,
        brokerUser: TLS_CLIENTS.agent,
        tls: { ca: node.pem.ca, cert: node.pem.client.agent.cert, key: node.pem.client.agent.key, external: true },
      },
      management: false,
    });
    await agent.start();
    expect(await agent.ping.ping('', ['tls'])).toEqual(['tls']);
    expect(await agent.rpc.call('control', 'stats.enabled')).toBe(false);
    const conns = await node.ctl('list_connections', '-q', 'user', 'auth_mechanism', 'peer_cert_subject');
    expect(conns).toMatch(/inst\.tls-agent\s+EXTERNAL\s+CN=inst\.tls-agent/);
  });

  it('vipctl status (built binary), peers and ping reach it through bus.json over amqps', async () => {
    const { stdout: status } = await execFileP(process.execPath, [VIPCTL, 'status', '--json', '--vip-home', platform.home], {
      timeout: 30_000,
    });
    expect(JSON.parse(status)).toMatchObject({ 'message-bus': 'rmq', 'instance-name': INSTANCE });
    const peers = await vipctl('peers', '--json', '--vip-home', platform.home);
    expect(peers.code).toBe(0);
    expect(JSON.parse(peers.out)).toEqual(expect.arrayContaining(['control', 'platform.auth', 'tls-agent']));
    expect((await vipctl('ping', '--vip-home', platform.home)).code).toBe(0);
    expect((await vipctl('ping', 'tls-agent', '--json', '--vip-home', platform.home)).out).toContain('"peer":"tls-agent"');
  });

  it('vipctl with its own certificate (--rmq-cert/--rmq-key) over the recorded link; a missing one is one line, exit 1', async () => {
    // not the platform's login: vipctl connects as vipctl.<id>, an identity it can hold without proof (control.connection.* needs the platform's user)
    const own = await vipctl('ping', '--vip-home', platform.home, '--rmq-cert', f.agentCert, '--rmq-key', f.agentKey);
    expect(own.code, own.err).toBe(0);
    const gone = await vipctl('ping', '--vip-home', platform.home, '--rmq-cert', join(dir, 'absent.pem'), '--rmq-key', f.agentKey);
    expect(gone.code).toBe(1);
    expect(gone.err).toMatch(/cannot read the client certificate \(--rmq-cert\) .*absent\.pem \(ENOENT\)/);
    expect(gone.err.trim().split('\n')).toHaveLength(1);
  });
});

describe('vip-platform refuses bad TLS settings: one clear line, exit 2 (a bad flag or file) or 1 (refused by the broker), nothing started', () => {
  const cases: Array<[string, () => string[], RegExp]> = [
    ['a missing certificate file', () => tlsArgs(join(dir, 'absent.pem')), /--rmq-cert .*absent\.pem: cannot read it \(ENOENT\)/],
    ['a file that is not PEM', () => tlsArgs(f.notPem), /--rmq-cert .*notPem\.pem is not a PEM file/],
    ["a key that is not the certificate's", () => tlsArgs(f.routerCert, f.agentKey), /--rmq-key .* is not the private key of --rmq-cert/],
    [
      '--rmq-external without --rmq-cert',
      () => tlsArgs().filter((a, i, all) => a !== '--rmq-cert' && all[i - 1] !== '--rmq-cert'),
      /--rmq-external needs --rmq-cert and --rmq-key/,
    ],
    [
      '--rmq-external with an amqp:// URL',
      () => [...tlsArgs(), '--rmq-url', `amqp://127.0.0.1:${node.amqpPort}`],
      /--rmq-external needs an amqps:\/\/ --rmq-url/,
    ],
  ];
  it.each(cases)('%s', async (_what, args, why) => {
    const home = join(dir, `home-${Math.random().toString(16).slice(2)}`);
    expectRefusal(await run(args(), { VIP_HOME: home }), why, 2);
    expect(existsSync(home)).toBe(false); // refused before the home was touched
  });

  /** Start with these arguments in a fresh home; it must exit with one line (1 when the broker refused, 2 for a bad flag) and leave no bus.json. */
  async function refusedAtStart(args: string[], why: RegExp, code: 1 | 2 = 1): Promise<void> {
    const home = await mkdtemp(join(tmpdir(), 'vip-rmq-tls-home-'));
    try {
      expectRefusal(await run(args, { VIP_HOME: home }), why, code);
      expect(existsSync(join(home, 'run', 'bus.json'))).toBe(false);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  }

  it('a certificate the broker refuses (another CA): exit 1 with who refused whom and the flag, no stack', async () => {
    await refusedAtStart(
      tlsArgs(f.foreignCert, f.foreignKey),
      /RabbitMQ at amqps:\/\/127\.0\.0\.1:\d+\/\S+ refused the client certificate.*tls\.cert is --rmq-cert .*foreignCert\.pem/,
    );
  });

  it('a --rmq-broker-user the certificate does not log in as: exit 1 naming both users (shared login: any name may be given)', async () => {
    await refusedAtStart(
      [...tlsArgs(), '--rmq-broker-user', 'admin', '--rmq-shared-login'],
      /refused user_id "admin".*authenticated as "inst\.router".*brokerUser --rmq-broker-user admin/,
    );
  });

  it('per-agent users (the default): a --rmq-broker-user other than <instance>.router is refused before anything starts', async () => {
    await refusedAtStart(
      [...tlsArgs(), '--rmq-broker-user', 'admin'],
      /--rmq-broker-user must be inst\.router: the platform's certificate must log in as the platform's broker user/,
      2,
    );
  });
});
