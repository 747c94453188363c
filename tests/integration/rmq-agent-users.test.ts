import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp, { type ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { z } from 'zod';
import type { Agent } from '@vip/agent';
import { connectRmqAgent, createRmqAgent } from '@vip/agent/rmq';
import { rmqRouterOptions, RmqRouterTransport } from '@vip/rmq';
import { agentPermissions, HelloPermissionCheck, type Permissions } from '@vip/rmq/admin';
import { AMQP_URL, FAST_RECONNECT, Inbox, MANAGEMENT, type TestVhost } from '@vip/testing';
import { freshVhost, management } from './helpers/broker.js';
import { HelloExtension, Router } from '@vip/router';
import { freePort, startPlatform, waitFor, type PlatformProcess } from '@vip/testing';
import { readAgentRmqFile } from '@vip/rmq';
import { agentRmqPath } from './helpers/broker.js';
import { runVipctl } from './helpers/vipctl.js';

/**
 * Per-agent RabbitMQ users (docs/protocol.md 7.1) and the RMQ router's permission check on hello
 * (7.5), against a platform process on the real broker: `vipctl auth add --identity` makes the
 * user, the agent runs on it, damaged permissions are repaired before the welcome, agents on the
 * shared guest user are left alone, and a dead management API never blocks a hello.
 * Broker users are global: their names carry the pid, and every one is deleted afterwards.
 */
const pid = process.pid;
const INSTANCE = `au${pid}`; // the platform's broker user <instance>.router is global too
const ids = {
  agent: `agent${pid}`,
  damaged: `damaged${pid}`,
  raw: `raw${pid}`,
  shared: `shared${pid}`,
  mgmt: `mgmt${pid}`,
  pending: `pending${pid}`,
};
const userOf = (identity: string) => `${INSTANCE}.${identity}`;
let vh: TestVhost;
let platform: PlatformProcess;
let watcher: Agent;

beforeAll(async () => {
  vh = await freshVhost('agent-users');
  platform = await startPlatform({
    bus: 'rmq',
    rmq: { vhost: vh.vhost, url: AMQP_URL, managementUrl: MANAGEMENT.baseUrl },
    instanceName: INSTANCE,
  });
  watcher = createRmqAgent({
    identity: 'au.watcher',
    rmq: { url: AMQP_URL, vhost: vh.vhost, instanceName: INSTANCE, reconnect: FAST_RECONNECT },
  });
  await watcher.start();
});
afterAll(async () => {
  await watcher?.close();
  await platform?.close();
  for (const id of [...Object.values(ids), 'router']) await management.deleteUser(userOf(id));
  await vh?.dispose();
});

async function vipctl(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return runVipctl([...argv, '--vip-home', platform.home]);
}

const HelloChecksSchema = z.object({
  checked: z.number(),
  sharedUser: z.number(),
  ok: z.number(),
  repaired: z.number(),
  failed: z.number(),
  recent: z.number(),
});
const StatsSchema = z.object({ router: z.looseObject({ extensions: z.looseObject({ helloChecks: HelloChecksSchema }) }) });

/** The hello-check counters (a router extension, HelloPermissionCheck), through the platform's `vip-router-stats` query. */
async function helloChecks(): Promise<z.infer<typeof HelloChecksSchema>> {
  const v = await watcher.query.query('vip-router-stats'); // the agent decodes the JSON text of the property
  return StatsSchema.parse(typeof v === 'string' ? JSON.parse(v) : v).router.extensions.helloChecks;
}

/** An agent of `@vip/agent/rmq` on the broker user vipctl created for it (URL from its rmq.json). */
async function agentOnOwnUser(identity: string): Promise<Agent> {
  const file = await readAgentRmqFile(platform.home, identity);
  if (!file) throw new Error(`no rmq.json for ${identity}`);
  // its own user has no management login: publish resolves 1, as VOLTTRON's does
  const agent = createRmqAgent({
    identity,
    rmq: { url: file.url, vhost: file.vhost, instanceName: file.instanceName, reconnect: FAST_RECONNECT },
    management: false,
  });
  onTestFinished(() => agent.close());
  return agent;
}

const anchored = (p: Permissions): Permissions => ({ ...p, configure: `^${p.configure.split('|')[0]!}$` });

describe('RabbitMqManagement users and permissions (real API)', () => {
  it('getUser and getPermissions: undefined when absent, the values once set', async () => {
    const user = userOf(ids.mgmt);
    expect(await management.getUser(user)).toBeUndefined();
    expect(await management.getPermissions(vh.vhost, user)).toBeUndefined();
    await management.ensureUser(user, randomBytes(9).toString('base64url'));
    expect(await management.getUser(user)).toEqual({ name: user, tags: [] });
    expect(await management.getPermissions(vh.vhost, user)).toBeUndefined(); // a user without rights on this vhost
    await management.setPermissions(vh.vhost, user, agentPermissions(INSTANCE, ids.mgmt));
    expect(await management.getPermissions(vh.vhost, user)).toEqual(agentPermissions(INSTANCE, ids.mgmt));
    await management.deleteUser(user);
    expect(await management.getUser(user)).toBeUndefined();
  });
});

describe('vipctl auth add --identity on a RabbitMQ platform', () => {
  it('creates the broker user; the agent on it is welcomed, answers RPC and ping, and uses broker pubsub; auth remove deletes it', async () => {
    const identity = ids.agent;
    const add = await vipctl('auth', 'add', '--identity', identity, '--json');
    expect(add, add.err).toMatchObject({ code: 0 });
    expect(JSON.parse(add.out)).toMatchObject({
      user_id: identity,
      broker: { user: userOf(identity), vhost: vh.vhost, instanceName: INSTANCE },
    });
    expect((await stat(agentRmqPath(platform.home, identity))).mode & 0o777).toBe(0o600);
    expect((await readAgentRmqFile(platform.home, identity))?.url).toMatch(
      new RegExp(`^amqp://${INSTANCE}\\.${identity}:[^@]+@127\\.0\\.0\\.1:5672$`),
    );
    expect(await management.getPermissions(vh.vhost, userOf(identity))).toEqual(agentPermissions(INSTANCE, identity));

    const before = await helloChecks();
    const agent = await agentOnOwnUser(identity);
    agent.rpc.export('echo', (...a: unknown[]) => a);
    await agent.start(); // resolves on the welcome
    expect(await helloChecks()).toMatchObject({ checked: before.checked + 1, ok: before.ok + 1, repaired: before.repaired });

    expect(await agent.ping.ping()).toBeDefined();
    expect(await agent.ping.ping('au.watcher')).toBeDefined();
    expect(await watcher.rpc.call(identity, 'echo', 1, 'x')).toEqual([1, 'x']);
    expect(await agent.rpc.call('control', 'stats.enabled')).toBe(false);

    const got: string[] = [];
    await agent.pubsub!.subscribe('users/own', (_p, _s, _b, topic) => void got.push(topic));
    expect(await watcher.pubsub!.publish('users/own/1', { message: 1 })).toBe(1);
    expect(await agent.pubsub!.publish('users/own/2', { message: 2 })).toBe(1);
    await waitFor(() => got.length === 2, { what: 'both publishes at the agent on its own user' });
    expect([...got].sort()).toEqual(['users/own/1', 'users/own/2']);

    const counters = await vipctl('stats', 'counters', '--json');
    expect(JSON.parse(counters.out)).toMatchObject({ router: { extensions: { helloChecks: { checked: expect.any(Number) } } } });

    await agent.close();
    const text = await vipctl('auth', 'remove', '--identity', identity);
    expect(text).toMatchObject({
      code: 0,
      out: `removed entry for user ${identity}\ndeleted broker user ${userOf(identity)} and its rmq.json\n`,
    });
    expect(await management.getUser(userOf(identity))).toBeUndefined();
    expect(await readAgentRmqFile(platform.home, identity)).toBeUndefined();
  });

  it('connectRmqAgent({ identity }) alone: the link from rmq.json, started, publishes resolve 1 with no management login and no warning (README)', async () => {
    const identity = `${ids.agent}c`;
    onTestFinished(() => management.deleteUser(userOf(identity)));
    expect((await vipctl('auth', 'add', '--identity', identity)).code).toBe(0);
    const warnings: Error[] = [];
    const onWarning = (w: Error) => void warnings.push(w);
    process.on('warning', onWarning);
    onTestFinished(() => void process.off('warning', onWarning));
    const agent = await connectRmqAgent({ identity, vipHome: platform.home }); // no rmq, no management, no start()
    onTestFinished(() => agent.close());
    agent.rpc.export('set_point', (value: number) => ({ ok: true, value }));
    expect(await watcher.rpc.call(identity, 'set_point', 21)).toEqual({ ok: true, value: 21 });
    const got: unknown[] = [];
    await agent.pubsub!.subscribe('readme/', (_p, _s, _b, _t, _h, message) => void got.push(message));
    expect(await agent.pubsub!.publish('readme/ahu1', { message: { temp: 21 } })).toBe(1);
    await waitFor(() => got.length === 1, { what: 'its own publish' });
    expect(agent.pubsub!.stats()).toMatchObject({ count_requests: 0, counts_unknown: 0 }); // management: false from rmq.json: nothing asked
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(warnings.filter((w) => (w as { code?: string }).code === 'VIP_RMQ_COUNT_UNKNOWN')).toEqual([]);

    // the same link with the default management (the URL's login, which the API refuses): 1 and one warning, not an exception after delivery
    const file = await readAgentRmqFile(platform.home, identity);
    const second = createRmqAgent({
      identity: `${identity}`,
      rmq: { url: file!.url, vhost: file!.vhost, instanceName: file!.instanceName },
    });
    await agent.close();
    await second.start();
    onTestFinished(() => second.close());
    expect(await second.pubsub!.publish('readme/ahu2', { message: 1 })).toBe(1);
    expect(await second.pubsub!.publish('readme/ahu3', { message: 2 })).toBe(1);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(warnings.filter((w) => (w as { code?: string }).code === 'VIP_RMQ_COUNT_UNKNOWN')).toHaveLength(1);
    expect(second.pubsub!.stats()).toMatchObject({ count_requests: 1, counts_unknown: 1 });
  });

  it('prints how the agent connects; refuses identities a broker user cannot carry with one line and exit 2', async () => {
    const identity = `${ids.agent}b`;
    onTestFinished(() => management.deleteUser(userOf(identity)));
    const r = await vipctl('auth', 'add', '--identity', identity);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`created broker user ${userOf(identity)} on vhost ${vh.vhost}`);
    expect(r.out).toContain(
      `connectRmqAgent({ identity: "${identity}" }) from @vip/agent/rmq, which reads ${agentRmqPath(platform.home, identity)}`,
    );
    for (const bad of ['a*b', 'a#', 'x/y']) {
      const refused = await vipctl('auth', 'add', '--identity', bad);
      expect(refused.code).toBe(2);
      expect(refused.err.trim().split('\n')).toHaveLength(1);
    }
    const unreachable = await vipctl(
      'auth',
      'add',
      '--identity',
      `${identity}c`,
      '--rmq-management-url',
      `http://127.0.0.1:${await freePort()}`,
    );
    expect(unreachable).toMatchObject({ code: 3, err: expect.stringContaining('management API not reachable') });
  });
});

describe('the RMQ router checks permissions on hello', () => {
  it('repairs a damaged user before the welcome (one repair counted); the repaired agent can open pubsub queues', async () => {
    const identity = ids.damaged;
    expect((await vipctl('auth', 'add', '--identity', identity)).code).toBe(0);
    // only its own VIP queue stays configurable: pubsub queues would be refused
    await management.setPermissions(vh.vhost, userOf(identity), anchored(agentPermissions(INSTANCE, identity)));
    const before = await helloChecks();
    const agent = await agentOnOwnUser(identity);
    await agent.start();
    expect(await management.getPermissions(vh.vhost, userOf(identity))).toEqual(agentPermissions(INSTANCE, identity));
    expect(await helloChecks()).toMatchObject({ repaired: before.repaired + 1, failed: before.failed });
    await agent.pubsub!.subscribe('users/damaged', () => undefined);
  });

  it('a peer whose user has configure "" : repaired, welcome and the message after the hello arrive in order; a second hello soon after is not checked again', async () => {
    const identity = ids.raw;
    const user = userOf(identity);
    await management.ensureUser(user, randomBytes(9).toString('base64url'));
    await management.setPermissions(vh.vhost, user, { ...agentPermissions(INSTANCE, identity), configure: '' });
    // a peer shaped like VOLTTRON's Python RMQConnection, on the guest connection, speaking as `identity`
    const conn = await amqp.connect(`${AMQP_URL}/${encodeURIComponent(vh.vhost)}`, { noDelay: true });
    onTestFinished(() => conn.close());
    const ch = await conn.createChannel();
    await ch.assertQueue(user, { durable: false, exclusive: true, autoDelete: true });
    await ch.bindQueue(user, 'volttron', user);
    const inbox = new Inbox<ConsumeMessage>();
    await ch.consume(user, (m) => m && inbox.push(m), { noAck: true });
    const send = (subsystem: string, args: string[], id: string) =>
      ch.publish('volttron', `${INSTANCE}.router`, Buffer.from(JSON.stringify(args)), {
        appId: user,
        messageId: id,
        type: subsystem,
        contentType: 'application/json',
        headers: { recipient: `${INSTANCE}.router`, proto: 'VIP', user },
      });
    const before = await helloChecks();
    send('hello', ['hello'], 'h1');
    send('ping', ['ping'], 'p1');
    await inbox.count(() => true, 2, 10_000, 'welcome and pong');
    expect(inbox.items.map((m) => [m.properties.messageId, JSON.parse(m.content.toString()) as unknown])).toEqual([
      ['h1', ['welcome', '1.0', 'router', identity]],
      ['p1', ['pong']],
    ]);
    expect(await management.getPermissions(vh.vhost, user)).toEqual(agentPermissions(INSTANCE, identity));
    expect(await helloChecks()).toMatchObject({ repaired: before.repaired + 1 });

    await management.setPermissions(vh.vhost, user, { ...agentPermissions(INSTANCE, identity), configure: '' });
    send('hello', ['hello'], 'h2');
    await inbox.next((m) => m.properties.messageId === 'h2', 5_000, 'second welcome');
    expect(await helloChecks()).toMatchObject({ repaired: before.repaired + 1, recent: before.recent + 1 });
    expect((await management.getPermissions(vh.vhost, user))?.configure).toBe(''); // within 30 s: left as it is
  });

  it('leaves an agent on the shared guest user alone: welcomed, counted sharedUser, no user made', async () => {
    const before = await helloChecks();
    const agent = createRmqAgent({ identity: ids.shared, rmq: { url: AMQP_URL, vhost: vh.vhost, instanceName: INSTANCE } });
    onTestFinished(() => agent.close());
    await agent.start();
    expect(await helloChecks()).toMatchObject({ sharedUser: before.sharedUser + 1, repaired: before.repaired, failed: before.failed });
    expect(await management.getUser(userOf(ids.shared))).toBeUndefined();
  });
});

describe('hello check with the management API unreachable', () => {
  it('welcomes the agent anyway and counts the failure', async () => {
    const other = await freshVhost('agent-users-nomgmt');
    const transport = new RmqRouterTransport({
      url: AMQP_URL,
      vhost: other.vhost,
      instanceName: 'nm',
      peerSweepMs: 0,
      reconnect: FAST_RECONNECT,
      management: { baseUrl: `http://127.0.0.1:${await freePort()}`, user: 'guest', password: 'guest' },
    });
    const check = new HelloPermissionCheck({
      management: { baseUrl: `http://127.0.0.1:${await freePort()}`, user: 'guest', password: 'guest' },
      vhost: other.vhost,
      instanceName: 'nm',
    });
    const hello = new HelloExtension({ beforeWelcome: (sender) => check.beforeWelcome(sender) });
    const router = new Router({ transport, ...rmqRouterOptions('nm', [check, hello]), instanceName: 'nm' });
    const agent = createRmqAgent({ identity: 'a1', rmq: { url: AMQP_URL, vhost: other.vhost, instanceName: 'nm' }, management: false });
    try {
      await router.start();
      await agent.start();
      expect(await agent.ping.ping()).toBeDefined();
    } finally {
      await agent.close();
      await router.stop();
      await other.dispose();
    }
    expect(check.stats()).toMatchObject({ checked: 1, failed: 1, repaired: 0, sharedUser: 0 });
  });
});

describe('vipctl auth remove --identity on a RabbitMQ home whose platform stopped', () => {
  it('deletes the broker user through the management API (no platform needed); when the API refuses, removes nothing and says what to pass', async () => {
    const stoppedInstance = `as${pid}`;
    const identity = `gone${pid}`;
    const own = await freshVhost('agent-users-stopped');
    const home = await mkdtemp(join(tmpdir(), 'vipctl-rmq-stopped-home-'));
    onTestFinished(async () => {
      for (const user of [`${stoppedInstance}.${identity}`, `${stoppedInstance}.router`]) await management.deleteUser(user);
      await rm(home, { recursive: true, force: true });
      await own.dispose();
    });
    const onHome = async (...argv: string[]) => {
      return runVipctl([...argv, '--vip-home', home]);
    };
    const stopped = await startPlatform({
      bus: 'rmq',
      rmq: { vhost: own.vhost, url: AMQP_URL, managementUrl: MANAGEMENT.baseUrl },
      instanceName: stoppedInstance,
      args: ['--vip-home', home],
    });
    expect((await onHome('auth', 'add', '--identity', identity)).code).toBe(0);
    await stopped.close();
    const user = `${stoppedInstance}.${identity}`;
    expect(await management.getUser(user)).toBeDefined();

    const refused = await onHome(
      'auth',
      'remove',
      '--identity',
      identity,
      '--rmq-management-url',
      'http://guest:not-the-password@127.0.0.1:15672',
    );
    expect(refused.code).toBe(1);
    expect(refused.err.trimEnd().split('\n')).toEqual([
      expect.stringMatching(
        new RegExp(
          `^vipctl: cannot delete broker user ${user}: management API refused the login of guest .*; nothing was removed\\. Give the management API's administrator with --rmq-management-url`,
        ),
      ),
    ]);
    expect(await management.getUser(user)).toBeDefined();
    expect(await readAgentRmqFile(home, identity)).toBeDefined();
    expect(JSON.parse((await onHome('auth', 'list', '--json')).out).allow.map((e: { user_id: string }) => e.user_id)).toContain(identity);

    const removed = await onHome('auth', 'remove', '--identity', identity); // the broker host's API as guest, as the platform's default
    expect(removed).toEqual({
      code: 0,
      out: `removed entry for user ${identity}\ndeleted broker user ${user} and its rmq.json\n`,
      err: '',
    });
    expect(await management.getUser(user)).toBeUndefined();
    expect(await readAgentRmqFile(home, identity)).toBeUndefined();
  });
});
