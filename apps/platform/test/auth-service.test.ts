import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, generateKeyPair, silentLogger } from '@vip/protocol';
import { Agent, UnauthorizedError } from '@vip/agent';
import { Router } from '@vip/router';
import { MemoryTransport, waitFor } from '@vip/testing';
import { AuthFile, AuthFileSchema, AuthRules } from '@vip/auth';
import {
  AUTH_SERVICE_IDENTITY,
  AuthService,
  authorizationsOf,
  ensureAuthServiceEntry,
  userToCapabilities,
  visibleCapabilities,
  type AuthRulesSource,
  type CapabilityMapAccess,
  type UserToCapabilities,
} from '../src/auth-service/index.js';
import { pinnedServiceUsers, platformUsers } from '../src/service-identities.js';

const key = (c: string) => c.repeat(43);

/** AuthRules compiled from auth.json content, validated as AuthFile validates the file. */
function rules(data: unknown): AuthRules {
  const r = AuthFileSchema.safeParse(data);
  if (!r.success) throw new Error(`bad test auth data: ${r.error.message}`);
  return new AuthRules(r.data);
}

/** The watcher's contract over an in-memory AuthRules (the real watcher is covered in @vip/zmq and the integration test). */
class RulesBox implements AuthRulesSource {
  readonly #listeners = new Set<(r: AuthRules) => void>();
  reloads = 0;
  constructor(public rules: AuthRules) {}
  onChange(listener: (r: AuthRules) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  async reload(): Promise<boolean> {
    this.reloads += 1;
    return true;
  }
  set(next: AuthRules): void {
    this.rules = next;
    for (const l of this.#listeners) l(next);
  }
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('user capabilities (get_user_to_capabilities, get_authorizations)', () => {
  const data = {
    allow: [
      { credentials: key('A'), user_id: 'alice', capabilities: ['can_a'], groups: ['ops'] },
      { credentials: key('B'), user_id: 'bob', capabilities: { can_b: { room: '/r.*/' } }, roles: ['reader'] },
      { credentials: key('C'), user_id: 'carol', enabled: false, capabilities: ['can_c'] },
      { credentials: key('D'), user_id: 'alice', capabilities: ['shadowed'] },
    ],
    groups: { ops: ['admin'] },
    roles: { admin: ['can_admin'], reader: ['can_read'] },
  };

  it("maps every enabled allow entry's user id to its own, role and group capabilities (first entry of a user wins)", () => {
    expect(userToCapabilities(rules(data))).toEqual({
      alice: { can_a: null, can_admin: null },
      bob: { can_b: { room: '/r.*/' }, can_read: null },
    });
  });

  it('answers [capabilities, groups, roles] for a user, consistent with the map, or null', () => {
    const r = rules(data);
    expect(authorizationsOf(r, 'alice')).toEqual([{ can_a: null, can_admin: null }, ['ops'], []]);
    expect(authorizationsOf(r, 'bob')?.[0]).toEqual(userToCapabilities(r).bob);
    expect(authorizationsOf(r, 'carol')).toBeNull();
    expect(authorizationsOf(r, 'nobody')).toBeNull();
  });
});

describe('ensureAuthServiceEntry', () => {
  const home = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vip-auth-svc-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return { dir, authFile: new AuthFile({ path: join(dir, 'auth.json') }) };
  };

  it('adds platform.auth pinned to its identity with its own key once, then leaves the entry alone', async () => {
    const { dir, authFile } = await home();
    const first = await ensureAuthServiceEntry({ authFile, vipHome: dir, logger: silentLogger });
    expect(first.added).toBe(true);
    const again = await ensureAuthServiceEntry({ authFile, vipHome: dir, logger: silentLogger });
    expect(again).toEqual({ keys: first.keys, added: false });
    const { allow } = await authFile.list();
    expect(allow).toHaveLength(1);
    expect(allow[0]).toMatchObject({
      user_id: AUTH_SERVICE_IDENTITY,
      identity: AUTH_SERVICE_IDENTITY,
      credentials: [first.keys.public],
      capabilities: { modify_rpc_method_allowance: null },
    });
  });

  it('refuses with an actionable ConfigError when user_id platform.auth holds another key', async () => {
    const { dir, authFile } = await home();
    await authFile.add({ credentials: generateKeyPair().public, user_id: AUTH_SERVICE_IDENTITY });
    await expect(ensureAuthServiceEntry({ authFile, vipHome: dir, logger: silentLogger })).rejects.toThrow(ConfigError);
    await expect(ensureAuthServiceEntry({ authFile, vipHome: dir, logger: silentLogger })).rejects.toThrow(
      /set its credentials to .{43} or remove it/,
    );
  });
});

/** A Router over a MemoryTransport with an AuthService; agents' users are their identities. */
async function setup(initial: AuthRules, peerlistTimeoutMs?: number, mapAccess?: CapabilityMapAccess) {
  const transport = new MemoryTransport();
  const router = new Router({ identity: 'router', transport });
  await router.start();
  cleanups.push(() => router.stop());
  const source = new RulesBox(initial);
  const pushed: UserToCapabilities[] = [];
  const service = new AuthService({
    source,
    peerlistTimeoutMs,
    pubsub: { setCapabilities: (m) => void pushed.push(m) },
    ...(mapAccess ? { mapAccess } : {}),
    platformUsers: () => ['platform'],
  });
  cleanups.push(() => service.close());
  const agent = (identity: string) => {
    const a = new Agent({ identity, connection: transport.connection(identity, { userId: identity }) });
    cleanups.push(() => a.close());
    return a;
  };
  return { source, service, pushed, agent, router };
}

describe('AuthService over a router (memory transport)', () => {
  it('hands pubsub the map at construction and on every change, and closes idempotently', async () => {
    const { source, service, pushed } = await setup(rules({ allow: [{ credentials: key('A'), user_id: 'a', capabilities: ['x'] }] }));
    expect(pushed).toEqual([{ a: { x: null } }]);
    source.set(rules({ allow: [] }));
    expect(pushed).toEqual([{ a: { x: null } }, {}]);
    expect(service.stats().updates).toBe(1);
    await service.close();
    await service.close();
    source.set(rules({ allow: [{ credentials: key('A'), user_id: 'a' }] }));
    expect(pushed).toHaveLength(2);
  });

  it('serves the RPCs and pushes auth.update to every peer on a change: an allow check follows without restart', async () => {
    // srv checks other agents' calls: it reads the whole map (read_user_capabilities).
    const entries = (callerCaps: string[]) =>
      rules({
        allow: [
          { credentials: key('S'), user_id: 'srv', capabilities: ['read_user_capabilities'] },
          { credentials: key('C'), user_id: 'cli', capabilities: callerCaps },
        ],
      });
    const { source, service, agent } = await setup(entries([]));
    await service.connect({ agent: agent(AUTH_SERVICE_IDENTITY) });
    const srv = agent('srv');
    srv.rpc.export('guarded', () => 'ok', { allow: 'can_g' });
    await srv.start();
    const cli = agent('cli');
    await cli.start();

    expect(await cli.rpc.call(AUTH_SERVICE_IDENTITY, 'get_user_to_capabilities')).toEqual({ cli: {} });
    expect(await srv.rpc.call(AUTH_SERVICE_IDENTITY, 'get_user_to_capabilities')).toEqual({
      srv: { read_user_capabilities: null },
      cli: {},
    });
    expect(await cli.rpc.call(AUTH_SERVICE_IDENTITY, 'get_authorizations', 'cli')).toEqual([{}, [], []]);
    await expect(cli.rpc.call('srv', 'guarded')).rejects.toBeInstanceOf(UnauthorizedError);

    source.set(entries(['can_g']));
    await service.settled();
    expect(service.stats()).toMatchObject({ updates: 1, failures: 0 });
    expect(service.stats().notified).toBeGreaterThanOrEqual(2); // srv and cli (not itself)
    expect(await waitFor(() => cli.rpc.call('srv', 'guarded').catch(() => undefined), { what: 'guarded allowed after auth.update' })).toBe(
      'ok',
    );
  });

  it('get_authorizations with a non-string user id is a remote TypeError, not a crash', async () => {
    const { service, agent } = await setup(rules({ allow: [] }));
    await service.connect({ agent: agent(AUTH_SERVICE_IDENTITY) });
    const cli = agent('cli');
    await cli.start();
    await expect(cli.rpc.call(AUTH_SERVICE_IDENTITY, 'get_authorizations', 42)).rejects.toMatchObject({ excType: 'builtins.TypeError' });
    expect(await cli.rpc.call(AUTH_SERVICE_IDENTITY, 'get_authorizations', 'x')).toBeNull();
  });

  it('counts a push round that cannot reach the router and keeps serving pubsub', async () => {
    const { source, service, pushed, agent, router } = await setup(rules({ allow: [] }), 300);
    await service.connect({ agent: agent(AUTH_SERVICE_IDENTITY) });
    await service.settled();
    expect(service.stats().failures).toBe(0);
    await router.stop();
    source.set(rules({ allow: [{ credentials: key('A'), user_id: 'a' }] }));
    await service.settled();
    expect(service.stats().failures).toBeGreaterThanOrEqual(1);
    expect(pushed.at(-1)).toEqual({ a: {} });
  });
});

describe('capability map access (get_user_to_capabilities, auth.update)', () => {
  const map: UserToCapabilities = {
    platform: { edit_config_store: { identity: '/.*/' } },
    'config.store': { sync_agent_config: null },
    reader: { read_user_capabilities: null },
    alice: { can_a: null },
    bob: { can_b: null },
  };
  const services = new Set(['platform', 'config.store', 'absent']);

  it("restricted: a reader sees all; others their own entry and the platform users'; all: everyone sees all", () => {
    expect(visibleCapabilities(map, 'reader', 'restricted', services)).toBe(map);
    expect(visibleCapabilities(map, 'alice', 'restricted', services)).toEqual({
      platform: map.platform,
      'config.store': map['config.store'],
      alice: { can_a: null },
    });
    expect(visibleCapabilities(map, 'stranger', 'restricted', services)).toEqual({
      platform: map.platform,
      'config.store': map['config.store'],
    });
    expect(visibleCapabilities(map, undefined, 'restricted', services)).toEqual({
      platform: map.platform,
      'config.store': map['config.store'],
    });
    expect(visibleCapabilities(map, 'constructor', 'restricted', new Set())).toEqual({});
    expect(visibleCapabilities(map, 'alice', 'all', services)).toBe(map);
  });

  it('pushes each peer the view of its own user; all pushes the whole map', async () => {
    const data = rules({
      allow: [
        { credentials: key('A'), user_id: 'alice', capabilities: ['can_a'] },
        { credentials: key('B'), user_id: 'bob', capabilities: ['can_b'] },
      ],
    });
    for (const access of ['restricted', 'all'] as const) {
      const { service, agent } = await setup(data, undefined, access);
      const got = new Map<string, unknown>();
      const peers = ['alice', 'bob'].map((id) => {
        const a = agent(id);
        a.rpc.export('auth.update', (m: unknown) => void got.set(id, m), { params: ['user_to_capabilities'] });
        return a;
      });
      for (const p of peers) await p.start();
      await service.connect({ agent: agent(AUTH_SERVICE_IDENTITY) });
      await waitFor(() => got.size === 2, { what: `both pushes (${access})` });
      if (access === 'restricted') {
        expect(got.get('alice')).toEqual({ alice: { can_a: null } });
        expect(got.get('bob')).toEqual({ bob: { can_b: null } });
      } else {
        expect(got.get('alice')).toEqual({ alice: { can_a: null }, bob: { can_b: null } });
      }
      for (const c of cleanups.splice(0).reverse()) await c();
    }
  });

  it("platform users: entries pinned to a service identity and the platform key's; service identities held only by their pinned users", () => {
    const r = rules({
      allow: [
        { credentials: key('P'), user_id: 'platform' },
        { credentials: key('A'), user_id: 'platform.auth', identity: 'platform.auth' },
        { credentials: key('H'), user_id: 'my-health', identity: 'platform.health' },
        { credentials: key('X'), user_id: 'x', identity: 'x' },
        { credentials: key('D'), user_id: 'disabled', identity: 'control', enabled: false },
      ],
    });
    expect([...platformUsers(r, key('P'))].sort()).toEqual(['my-health', 'platform', 'platform.auth']);
    const table = new Map(pinnedServiceUsers(r) as Iterable<[string, string[]]>);
    expect(table.get('platform.auth')).toEqual(['platform.auth']);
    expect(table.get('platform.health')).toEqual(['my-health']);
    expect(table.get('control')).toEqual([]);
    expect(table.has('x')).toBe(false);
  });
});
