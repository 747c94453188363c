// vipctl auth add --identity on an EXTERNAL (certificate) RabbitMQ platform: per-agent client certificates.
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Agent } from '@vip/agent';
import { createRmqAgent } from '@vip/agent/rmq';
import { agentPermissions, RabbitMqManagement } from '@vip/rmq/admin';
import { FAST_RECONNECT } from '@vip/testing';
import { startTlsNode, TLS_CLIENTS, type TlsNode } from '@vip/testing';
import { startPlatform, waitFor, type PlatformLogLine, type PlatformProcess } from '@vip/testing';
import { readAgentRmqFile } from '@vip/rmq';
import { agentCertPaths, agentRmqPath } from './helpers/broker.js';
import { runVipctl } from './helpers/vipctl.js';

/**
 * A private TLS RabbitMQ node (amqps, verify_peer, EXTERNAL, users = certificate CNs) with its own
 * management API (tls-node.ts `management: true`), and the platform process on it logging in as
 * `inst.router` by certificate, with `--rmq-ca-key` (the node's CA key) and `--rmq-management-url`
 * of the node. Agents get their certificates from `vipctl auth add --identity` only.
 */
const VHOST = 'volttron-tls-agents';
const INSTANCE = 'inst';
const IDS = { a: 'cert-a', b: 'cert-b', c: 'cert-c' } as const;
const userOf = (identity: string) => `${INSTANCE}.${identity}`;

let node: TlsNode;
let mgmt: RabbitMqManagement;
let platform: PlatformProcess;
const agents: Agent[] = [];

function platformArgs(withCaKey: boolean): string[] {
  return [
    '--rmq-ca',
    node.caFiles.cert,
    '--rmq-cert',
    `${node.dir}/certs/client-router.crt`,
    '--rmq-key',
    `${node.dir}/certs/client-router.key`,
    '--rmq-external',
    '--rmq-broker-user',
    TLS_CLIENTS.router,
    ...(withCaKey ? ['--rmq-ca-key', node.caFiles.key] : []),
  ];
}

function startOn(withCaKey: boolean): Promise<PlatformProcess> {
  return startPlatform({
    bus: 'rmq',
    instanceName: INSTANCE,
    args: platformArgs(withCaKey),
    rmq: { vhost: VHOST, url: node.amqpsUrl, managementUrl: node.management!.urlWithLogin },
  });
}

beforeAll(async () => {
  node = await startTlsNode(VHOST, [TLS_CLIENTS.router], { management: true });
  mgmt = new RabbitMqManagement({ baseUrl: node.management!.baseUrl, user: node.management!.user, password: node.management!.password });
  platform = await startOn(true);
}, 120_000);
afterAll(async () => {
  for (const a of agents) await a.close();
  await platform?.close();
  await node?.stop();
}, 60_000);

async function vipctl(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return runVipctl([...argv, '--vip-home', platform.home]);
}

/** An @vip/agent/rmq agent built only from what vipctl wrote: rmq.json and the PEM files it names. */
async function agentFromRmqJson(identity: string): Promise<Agent> {
  const file = await readAgentRmqFile(platform.home, identity);
  if (!file?.tls) throw new Error(`no certificate rmq.json for ${identity}`);
  const pem = (p: string) => readFile(p, 'utf8');
  const agent = createRmqAgent({
    identity,
    rmq: {
      url: file.url,
      vhost: file.vhost,
      instanceName: file.instanceName,
      reconnect: FAST_RECONNECT,
      brokerUser: file.user,
      tls: { ca: await pem(file.tls.ca!), cert: await pem(file.tls.cert), key: await pem(file.tls.key), external: file.external === true },
    },
    management: false, // its user has no management login
  });
  agents.push(agent);
  return agent;
}

const HelloChecksSchema = z.object({ checked: z.number(), ok: z.number(), repaired: z.number(), failed: z.number() });
async function helloChecks(via: Agent): Promise<z.infer<typeof HelloChecksSchema>> {
  const v = await via.query.query('vip-router-stats');
  // the hello check is a router extension (HelloPermissionCheck), counted in the router's stats
  return z
    .object({ router: z.looseObject({ extensions: z.looseObject({ helloChecks: z.looseObject(HelloChecksSchema.shape) }) }) })
    .parse(typeof v === 'string' ? JSON.parse(v) : v).router.extensions.helloChecks;
}

/** The management API's raw user record (RabbitMqManagement.getUser leaves out the password hash). */
async function rawUser(user: string): Promise<{ status: number; body?: { password_hash?: string; tags?: unknown } }> {
  const m = node.management!;
  const res = await fetch(`${m.baseUrl}/api/users/${encodeURIComponent(user)}`, {
    headers: { authorization: `Basic ${Buffer.from(`${m.user}:${m.password}`).toString('base64')}` },
  });
  return res.ok ? { status: res.status, body: (await res.json()) as { password_hash?: string } } : { status: res.status };
}

describe('vipctl auth add --identity on an EXTERNAL platform issues client certificates', () => {
  it('the platform records --rmq-ca-key in bus.json as a path; no key material in bus.json or its log', async () => {
    const text = await readFile(`${platform.home}/run/bus.json`, 'utf8');
    expect(JSON.parse(text)).toMatchObject({ tls: { ca: node.caFiles.cert, caKey: node.caFiles.key, external: true } });
    expect(text).not.toMatch(/BEGIN|PRIVATE/);
    expect(platform.stderrTail(200)).not.toMatch(/BEGIN|PRIVATE KEY|ca\.key/);
  });

  it('issues CN=<instance>.<identity> signed by the instance CA, files 0600, rmq.json without password; the broker user has no password', async () => {
    // the platform's topic-permission syncs of inst.cert-a, heard from before vipctl runs (see below)
    const synced: unknown[] = [];
    const onLog = (line: PlatformLogLine) => {
      if (line.event === 'rmq.topic-permissions.synced' && line.user === userOf(IDS.a)) synced.push(line.outcome);
    };
    platform.on('log', onLog);
    const add = await vipctl('auth', 'add', '--identity', IDS.a, '--days', '30', '--json');
    expect(add, add.err).toMatchObject({ code: 0 });
    const paths = agentCertPaths(platform.home, IDS.a);
    expect(JSON.parse(add.out)).toMatchObject({
      user_id: IDS.a,
      broker: { user: userOf(IDS.a), vhost: VHOST, certificate: { cert: paths.cert, key: paths.key, ca: node.caFiles.cert } },
    });
    for (const p of [paths.cert, paths.key, agentRmqPath(platform.home, IDS.a)]) expect((await stat(p)).mode & 0o777).toBe(0o600);
    expect(add.out).not.toMatch(/BEGIN|PRIVATE/);

    const cert = new X509Certificate(await readFile(paths.cert, 'utf8'));
    const ca = new X509Certificate(await readFile(node.caFiles.cert, 'utf8'));
    expect(cert.subject).toBe(`CN=${userOf(IDS.a)}`);
    expect(cert.issuer).toBe(ca.subject);
    expect(cert.checkIssued(ca) && cert.verify(ca.publicKey)).toBe(true);
    expect(Math.round((Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000)).toBe(30);

    const file = await readAgentRmqFile(platform.home, IDS.a);
    expect(file).toEqual({
      url: node.amqpsUrl,
      vhost: VHOST,
      instanceName: INSTANCE,
      identity: IDS.a,
      user: userOf(IDS.a),
      tls: { ca: node.caFiles.cert, cert: paths.cert, key: paths.key },
      external: true,
    });
    expect(await rawUser(userOf(IDS.a))).toMatchObject({ status: 200, body: { password_hash: '', tags: [] } });
    expect(await mgmt.getPermissions(VHOST, userOf(IDS.a))).toEqual(agentPermissions(INSTANCE, IDS.a));
    // vipctl creates the user with the fail-closed topic permission (no pubsub writes yet). The
    // platform replaces it with what the user should have (here: none, nothing is protected) at
    // the agent's hello, and also in the round it runs when auth.json changes: vipctl writes the
    // auth.json entry last, so under load that round may already have cleared it. Either state
    // proves vipctl set it: the platform clears ('cleared') only a permission it found.
    const topic = await mgmt.getTopicPermissions(VHOST, userOf(IDS.a));
    if (topic === undefined) {
      await waitFor(() => synced.includes('cleared'), { what: "the platform's log of clearing the fail-closed topic permission" });
    } else {
      expect(topic).toEqual([{ exchange: 'volttron', write: '^(?!__pubsub__\\.)', read: '.*' }]);
    }
    platform.off('log', onLog);

    const text = await vipctl('auth', 'add', '--identity', IDS.b);
    expect(text.code, text.err).toBe(0);
    expect(text.out).toContain(`created broker user ${userOf(IDS.b)} on vhost ${VHOST} (certificate login only: SASL EXTERNAL)`);
    expect(text.out).toMatch(/issued its client certificate CN=inst\.cert-b \(issuer CN=vip test ca, valid until .*\)/);
    expect(text.out).toContain(
      `connectRmqAgent({ identity: "${IDS.b}" }) from @vip/agent/rmq, which reads ${agentRmqPath(platform.home, IDS.b)}`,
    );
  });

  it('agents built from rmq.json are welcomed (hello check: existing user), ping, RPC each other, and publish once their topic permission is set', async () => {
    const b = await agentFromRmqJson(IDS.b);
    b.rpc.export('echo', (...args: unknown[]) => args);
    await b.start();
    const before = await helloChecks(b);
    const a = await agentFromRmqJson(IDS.a);
    a.rpc.export('twice', (n: unknown) => Number(n) * 2);
    await a.start(); // resolves on the welcome
    expect(await helloChecks(b)).toMatchObject({
      checked: before.checked + 1,
      ok: before.ok + 1,
      repaired: before.repaired,
      failed: before.failed,
    });

    expect(await a.ping.ping('', ['x'])).toEqual(['x']);
    expect(await a.rpc.call(IDS.b, 'echo', 1, 'y')).toEqual([1, 'y']);
    expect(await b.rpc.call(IDS.a, 'twice', 21)).toBe(42);
    const conns = await node.ctl('list_connections', '-q', 'user', 'auth_mechanism', 'peer_cert_subject');
    expect(conns).toMatch(/inst\.cert-a\s+EXTERNAL\s+CN=inst\.cert-a/);

    // the platform replaced the fail-closed topic permission at the hello
    await waitFor(
      async () =>
        JSON.stringify(await mgmt.getTopicPermissions(VHOST, userOf(IDS.a))) !==
        JSON.stringify([{ exchange: 'volttron', write: '^(?!__pubsub__\\.)', read: '.*' }]),
      { what: 'the platform to set the topic permission of inst.cert-a' },
    );
    const got: string[] = [];
    await b.pubsub!.subscribe('certs/topic', (_p, _s, _b, topic) => void got.push(topic));
    expect(await a.pubsub!.publish('certs/topic/1', { message: 1 })).toBe(1);
    await waitFor(() => got.length === 1, { what: 'the publish of the certificate agent' });
    expect(got).toEqual(['certs/topic/1']);
  });

  it('auth remove --identity deletes the broker user, rmq.json and the certificate files', async () => {
    const a = agents.find((x) => x.identity === IDS.a);
    await a?.close();
    const r = await vipctl('auth', 'remove', '--identity', IDS.a);
    expect(r).toMatchObject({ code: 0, out: `removed entry for user ${IDS.a}\ndeleted broker user ${userOf(IDS.a)} and its rmq.json\n` });
    expect(await mgmt.getUser(userOf(IDS.a))).toBeUndefined();
    const paths = agentCertPaths(platform.home, IDS.a);
    for (const p of [paths.cert, paths.key, agentRmqPath(platform.home, IDS.a)]) expect(existsSync(p)).toBe(false);
  });

  it('bad identity and --days are one line, exit 2, nothing issued', async () => {
    for (const argv of [
      ['--identity', 'x/y'],
      ['--identity', 'a#'],
      ['--identity', IDS.c, '--days', '0'],
    ]) {
      const r = await vipctl('auth', 'add', ...argv);
      expect(r.code).toBe(2);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
    expect(await mgmt.getUser(userOf(IDS.c))).toBeUndefined();
  });

  it('a platform started without --rmq-ca-key: vipctl exits 1 with one line saying so; no user, no files', async () => {
    for (const a of agents.splice(0)) await a.close();
    await platform.close();
    platform = await startOn(false);
    const r = await vipctl('auth', 'add', '--identity', IDS.c);
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toEqual([expect.stringMatching(/recorded no CA key: start vip-platform with --rmq-ca-key FILE/)]);
    expect(await mgmt.getUser(userOf(IDS.c))).toBeUndefined();
    expect(existsSync(agentRmqPath(platform.home, IDS.c))).toBe(false);
  }, 60_000);
});
