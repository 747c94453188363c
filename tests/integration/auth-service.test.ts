/**
 * The platform's `platform.auth` through a real platform process (tcp + CURVE): RPC `allow`
 * checks and protected pubsub topics follow auth.json, from the first second and after edits,
 * without a restart.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, type CurveKeyPair } from '@vip/protocol';
import { startPlatform, waitFor, type PlatformProcess } from '@vip/testing';
import { AuthFile } from '@vip/auth';
import { PubSubSubsystem, UnauthorizedError, type Agent } from '@vip/agent';
import { createZmqAgent } from '@vip/agent/zmq';

/** Users in auth.json before the platform starts: `late` gets its capabilities from a group added later. */
type User = 'svc' | 'caller.yes' | 'caller.late' | 'pub.yes' | 'pub.late';
const USERS: Record<User, { capabilities?: string[]; groups?: string[] }> = {
  // svc checks other agents' calls (`allow`): it reads every user's capabilities.
  svc: { capabilities: ['read_user_capabilities'] },
  'caller.yes': { capabilities: ['can_x'] },
  'caller.late': { groups: ['late'] },
  'pub.yes': { capabilities: ['can_publish_secure'] },
  'pub.late': { groups: ['late'] },
};

describe('platform.auth (VOLTTRON AuthService) in a real platform', () => {
  let home: string;
  let platform: PlatformProcess | undefined;
  let authFile: AuthFile;
  const keys = new Map<User, CurveKeyPair>();
  const agents: Agent[] = [];
  let svc: Agent;

  const launch = () => startPlatform({ args: ['--vip-home', home], logLevel: 'info' });
  const agent = (identity: string): Agent => {
    const found = agents.find((a) => a.identity === identity);
    if (!found) throw new Error(`${identity} is not connected`);
    return found;
  };
  const connect = async (user: User): Promise<Agent> => {
    const pair = keys.get(user);
    if (!pair || !platform) throw new Error(`no key for ${user}`);
    const agent = await createZmqAgent({
      identity: user,
      address: platform.tcpAddress,
      serverKey: platform.serverkey ?? '',
      publicKey: pair.public,
      secretKey: pair.secret,
      vipHome: home,
    });
    agents.push(agent);
    await agent.start();
    return agent;
  };

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'vip-auth-service-'));
    // First start writes auth.json (platform, control, platform.auth); the users and the
    // protected topic are in place before the second start, and nothing changes while it runs.
    await (await launch()).close();
    authFile = new AuthFile({ path: join(home, 'auth.json') });
    for (const [user, extra] of Object.entries(USERS) as [User, (typeof USERS)[User]][]) {
      const pair = generateKeyPair();
      keys.set(user, pair);
      await authFile.add({ credentials: pair.public, user_id: user, identity: user, ...extra });
    }
    await writeFile(
      join(home, 'protected_topics.json'),
      JSON.stringify({ 'write-protect': [{ topic: 'secure/', capabilities: ['can_publish_secure'] }] }),
    );
    platform = await launch();
    svc = await connect('svc');
    svc.rpc.export('do_x', (n: number) => n * 2, { params: ['n'], allow: 'can_x' });
  });

  afterAll(async () => {
    await Promise.all(agents.splice(0).map((a) => a.close()));
    await platform?.close();
    await rm(home, { recursive: true, force: true });
  });

  it('answers get_user_to_capabilities and get_authorizations from auth.json (groups and roles resolved)', async () => {
    const caller = svc;
    const map = await caller.rpc.call<Record<string, unknown>>('platform.auth', 'get_user_to_capabilities');
    expect(map).toMatchObject({ 'caller.yes': { can_x: null }, 'caller.late': {}, 'platform.auth': { modify_rpc_method_allowance: null } });
    expect(await caller.rpc.call('platform.auth', 'get_authorizations', 'caller.late')).toEqual([{}, ['late'], []]);
    expect(await caller.rpc.call('platform.auth', 'get_authorizations', 'nobody')).toBeNull();
  });

  it("from the first second: a caller without the capability gets VOLTTRON's unauthorized error, a publisher without it is refused, one with it admitted", async () => {
    const yes = await connect('caller.yes');
    expect(await yes.rpc.call('svc', 'do_x', 21)).toBe(42);
    const late = await connect('caller.late');
    const refused = await late.rpc.call('svc', 'do_x', 1).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(UnauthorizedError);
    expect((refused as Error).message).toContain(
      "method 'do_x' requires capabilities {'can_x'}, but capability {} was provided for user caller.late",
    );

    const pub = pubsubOf(await connect('pub.late'));
    await expect(pub.publish('secure/a')).rejects.toMatchObject({
      errnum: -32001,
      message: 'to publish to topic "secure/a" requires capabilities [\'can_publish_secure\'], but capability list {} was provided',
    });
    expect(await pub.publish('open/a')).toBe(0);
    // pubsub refuses users it has no capabilities for: admitting this one needs the map at start
    expect(await pubsubOf(await connect('pub.yes')).publish('secure/a')).toBe(0);
  });

  it('a grant in auth.json (role via group) applies within seconds, without restart, to RPC and pubsub', async () => {
    const late = agent('caller.late');
    const pub = pubsubOf(agent('pub.late'));
    await authFile.setRoles({ granted: ['can_x', 'can_publish_secure'] });
    await authFile.setGroups({ late: ['granted'] });
    // svc cached the map on its first check: only platform.auth's auth.update push can change it.
    const result = await waitFor(
      () => late.rpc.call<number>('svc', 'do_x', 5).catch((e: unknown) => (e instanceof UnauthorizedError ? undefined : Promise.reject(e))),
      { timeoutMs: 10_000, intervalMs: 200, what: 'do_x allowed after the grant' },
    );
    expect(result).toBe(10);
    expect(await pub.publish('secure/b')).toBe(0);
    expect(await late.rpc.call('platform.auth', 'get_authorizations', 'caller.late')).toEqual([
      { can_x: null, can_publish_secure: null },
      ['late'],
      [],
    ]);
  });
});

function pubsubOf(agent: Agent): PubSubSubsystem {
  const pubsub = agent.pubsub ?? agent.subsystem<PubSubSubsystem>('pubsub');
  if (!pubsub) throw new Error(`${agent.identity} has no pubsub subsystem`);
  return pubsub;
}
