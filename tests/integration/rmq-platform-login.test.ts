import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import amqp from 'amqplib';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { z } from 'zod';
import { createRmqAgent } from '@vip/agent/rmq';
import { FAST_RECONNECT, MANAGEMENT, type TestVhost } from '@vip/testing';
import { freshVhost, management } from './helpers/broker.js';
import { failedStart, freePort, startPlatform, waitFor, type PlatformProcess } from '@vip/testing';
import { readAgentRmqFile } from '@vip/rmq';
import { runVipctl } from './helpers/vipctl.js';

/**
 * Issue 10, items 7 and 13: how the platform logs in on RabbitMQ. By default (no login flags at
 * all) it creates its own broker user `<instance>.router` through the management API and runs
 * router, control and platform.auth on it (nothing on guest); the shared login is an explicit
 * opt-in that warns; nothing is created on the broker before it answered on AMQP. Broker users are
 * global: instance names carry the pid and the users are deleted afterwards.
 */
const pid = process.pid;
const users: string[] = [];
const vhosts: TestVhost[] = [];
afterAll(async () => {
  for (const u of users) await management.deleteUser(u);
  for (const v of vhosts) await v.dispose();
});

async function vhost(tag: string): Promise<TestVhost> {
  const v = await freshVhost(tag);
  vhosts.push(v);
  return v;
}

const ConnectionsSchema = z.array(
  z.looseObject({ user: z.string(), client_properties: z.looseObject({ connection_name: z.string().optional() }).optional() }),
);
/** The broker users of the connections open on `vh` (management API). */
async function connectionUsers(vh: string): Promise<string[]> {
  const res = await fetch(`${MANAGEMENT.baseUrl}/api/vhosts/${encodeURIComponent(vh)}/connections`, {
    headers: { authorization: `Basic ${Buffer.from(`${MANAGEMENT.user}:${MANAGEMENT.password}`).toString('base64')}` },
  });
  return ConnectionsSchema.parse(await res.json()).map((c) => c.user);
}

async function vhostExists(vh: string): Promise<boolean> {
  const res = await fetch(`${MANAGEMENT.baseUrl}/api/vhosts/${encodeURIComponent(vh)}`, {
    headers: { authorization: `Basic ${Buffer.from(`${MANAGEMENT.user}:${MANAGEMENT.password}`).toString('base64')}` },
  });
  await res.arrayBuffer();
  return res.status === 200;
}

async function vipctl(home: string, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return runVipctl([...argv, '--vip-home', home]);
}

describe("the default RabbitMQ start: the platform's own broker user, no guest", () => {
  const instance = `lg${pid}`;
  let platform: PlatformProcess;
  let vh: TestVhost;

  afterAll(async () => {
    await platform?.close();
  });

  it('creates <instance>.router and runs router, control and platform.auth on it; prints and records no guest', async () => {
    users.push(`${instance}.router`);
    vh = await vhost('login-default');
    // no --rmq-url and no --rmq-management-url: the defaults (local broker, its management API)
    platform = await startPlatform({ bus: 'rmq', rmq: { vhost: vh.vhost }, instanceName: instance });
    expect(await management.getUser(`${instance}.router`)).toEqual({ name: `${instance}.router`, tags: [] });
    expect(await management.getPermissions(vh.vhost, `${instance}.router`)).toEqual({ configure: '.*', write: '.*', read: '.*' });
    await waitFor(async () => (await connectionUsers(vh.vhost)).length >= 3, { what: 'router, control and platform.auth connected' });
    expect(new Set(await connectionUsers(vh.vhost))).toEqual(new Set([`${instance}.router`]));
    expect(platform.stderrTail(500)).not.toMatch(/guest/i);
    expect(platform.stderrTail(500)).not.toMatch(/shared-login/);
    const bus = JSON.parse(await readFile(join(platform.home, 'run', 'bus.json'), 'utf8')) as { url: string };
    expect(decodeURIComponent(new URL(bus.url).username)).toBe(`${instance}.router`);
  });

  it("vipctl reaches it through bus.json as the platform's user; an agent made by vipctl auth add --identity is welcomed", async () => {
    const status = await vipctl(platform.home, 'status', '--json');
    expect(status.code, status.err).toBe(0);
    expect(JSON.parse(status.out)).toMatchObject({ 'message-bus': 'rmq', 'instance-name': instance });
    const peers = await vipctl(platform.home, 'peers', '--json');
    expect(JSON.parse(peers.out)).toEqual(expect.arrayContaining(['control', 'platform.auth']));
    const id = `agent${pid}`;
    users.push(`${instance}.${id}`);
    const add = await vipctl(platform.home, 'auth', 'add', '--identity', id);
    expect(add.code, add.err).toBe(0);
    const file = await readAgentRmqFile(platform.home, id);
    const agent = createRmqAgent({
      identity: id,
      rmq: { url: file!.url, vhost: file!.vhost, instanceName: instance, reconnect: FAST_RECONNECT },
      management: false,
    });
    onTestFinished(() => agent.close());
    await agent.start();
    expect(await agent.ping.ping('', ['own user'])).toEqual(['own user']);
    expect(await agent.peerlist.list()).toEqual(expect.arrayContaining(['control', 'platform.auth', id]));
    expect(agent.transportStats()).toMatchObject({ spoofed: 0, unproven: 0 }); // everything from the platform came proven
  });

  it("a second platform with the same instance on the vhost is refused before it touches the platform user: the first one's login still works", async () => {
    const err = await failedStart(startPlatform({ bus: 'rmq', rmq: { vhost: vh.vhost }, instanceName: instance, startTimeoutMs: 15_000 }));
    expect(err.message).toMatch(
      new RegExp(`vip-platform: another platform with instance name ${instance} is running on virtual host ${vh.vhost}.*; fix: stop it`),
    );
    const bus = JSON.parse(await readFile(join(platform.home, 'run', 'bus.json'), 'utf8')) as { url: string };
    const model = await amqp.connect(`${bus.url}/${encodeURIComponent(vh.vhost)}`);
    await model.close();
  });
});

describe('the shared login is an explicit opt-in with a warning', () => {
  it("--rmq-shared-login runs everything on the URL's user (guest) and says at start what that allows", async () => {
    const instance = `lgs${pid}`;
    const vh = await vhost('login-shared');
    const platform = await startPlatform({ bus: 'rmq', rmq: { vhost: vh.vhost, sharedLogin: true }, instanceName: instance });
    onTestFinished(() => platform.close());
    const warning = platform
      .stderrTail(500)
      .split('\n')
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          return {};
        }
      })
      .find((l) => l.event === 'rmq.shared-login');
    expect(warning).toMatchObject({ level: 'warn', risk: expect.stringMatching(/can act as any identity/) as unknown });
    await waitFor(async () => (await connectionUsers(vh.vhost)).length >= 3, { what: 'router, control and platform.auth connected' });
    expect(new Set(await connectionUsers(vh.vhost))).toEqual(new Set(['guest']));
    expect(await management.getUser(`${instance}.router`)).toBeUndefined();
  });
});

describe('nothing is created on the broker before it answers on AMQP', () => {
  it.each([
    ['per-agent users (default)', false],
    ['shared login', true],
  ])('%s: a refused port fails the start with one line and leaves no virtual host or user behind', async (_mode, sharedLogin) => {
    const instance = `lgr${pid}${sharedLogin ? 's' : ''}`;
    const vh = `vip-test-login-refused-${pid}-${sharedLogin ? 's' : 'p'}`;
    const port = await freePort();
    const err = await failedStart(
      startPlatform({
        bus: 'rmq',
        rmq: { vhost: vh, url: `amqp://127.0.0.1:${port}`, managementUrl: MANAGEMENT.baseUrl, sharedLogin },
        instanceName: instance,
        startTimeoutMs: 15_000,
      }),
    );
    expect(err.message).toMatch(
      new RegExp(
        `vip-platform: RabbitMQ is not reachable at amqp://127\\.0\\.0\\.1:${port}/${vh} \\(ECONNREFUSED\\); fix: start the broker`,
      ),
    );
    expect(await vhostExists(vh)).toBe(false);
    expect(await management.getUser(`${instance}.router`)).toBeUndefined();
  });

  it("per-agent users without a management API and without the platform's user in the URL: one line naming the ways out", async () => {
    const err = await failedStart(
      startPlatform({
        bus: 'rmq',
        rmq: { vhost: `vip-test-login-off-${pid}`, managementUrl: 'off' },
        instanceName: `lgo${pid}`,
        startTimeoutMs: 15_000,
      }),
    );
    expect(err.message).toMatch(
      new RegExp(
        `vip-platform: invalid option: --rmq-management-url off: the platform cannot create its broker user lgo${pid}\\.router; .*--rmq-shared-login`,
      ),
    );
  });
});
