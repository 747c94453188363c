/**
 * `platform.auth`'s RPC API beyond the capability map (VOLTTRON 9 `auth.py`), against a real
 * platform process with raw VIP clients that frame each call as a Python agent does: dynamic RPC
 * authorizations (the start-up `update_id_rpc_authorizations` every Python agent sends), the
 * credential lists and decisions, `auth_file.*`; each admin operation refused to a peer admitted
 * without the capability (the impersonation tests), and the pushes to a TypeScript agent.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from '@vip/protocol';
import {
  openRawClient,
  pythonRpcCall,
  RawVipClient,
  startPlatform,
  waitFor,
  type PlatformProcess,
  type PythonRpcReply,
} from '@vip/testing';
import type { Agent } from '@vip/agent';
import { createZmqAgent } from '@vip/agent/zmq';

let platform: PlatformProcess;
/** A Python-shaped agent `py.agent`, admitted as user `py.agent`, no capabilities. */
let py: RawVipClient;
/** Admitted as `mallory`, no capabilities: attempts every admin operation. */
let mallory: RawVipClient;
/** An operator tool holding VOLTTRON's two admin capabilities. */
let admin: RawVipClient;
const agents: Agent[] = [];

const AUTH = 'platform.auth';
const refused = (r: PythonRpcReply) => {
  expect(r.error?.data?.['exception.py']?.exc_type).toBe('volttron.platform.jsonrpc.Error');
  expect(r.error?.data?.['exception.py']?.exc_args?.[0]).toBe(-32001);
};
const entryOf = async (identity: string): Promise<Record<string, unknown> | undefined> => {
  const file = JSON.parse(await readFile(join(platform.home, 'auth.json'), 'utf8')) as { allow: Record<string, unknown>[] };
  return file.allow.find((e) => e.identity === identity);
};

beforeAll(async () => {
  platform = await startPlatform({ logLevel: 'info' });
  py = await openRawClient(platform, 'py.agent');
  mallory = await openRawClient(platform, 'mallory');
  admin = await openRawClient(platform, 'admin.tool', {
    capabilities: { allow_auth_modifications: null, modify_rpc_method_allowance: null },
  });
});

afterAll(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
  await Promise.all([py, mallory, admin].map((c) => c?.close()));
  await platform?.close();
});

describe('platform.auth dynamic RPC authorizations', () => {
  it("answers a Python agent's start-up update_id_rpc_authorizations and records its methods", async () => {
    const methods = { echo: [], set_point: ['can_set'] };
    const r = await pythonRpcCall(py, AUTH, 'update_id_rpc_authorizations', ['py.agent', methods]);
    expect(r.error).toBeUndefined();
    expect(r.result).toEqual(methods);
    await waitFor(async () => (await entryOf('py.agent'))?.rpc_method_authorizations !== undefined, { what: 'auth.json written' });
    expect((await entryOf('py.agent'))?.rpc_method_authorizations).toEqual(methods);
    // A Python agent whose identity has no entry gets None, as from VOLTTRON.
    expect((await pythonRpcCall(admin, AUTH, 'update_id_rpc_authorizations', ['no.such.agent', {}])).result).toBeNull();
  });

  it("refuses to record another agent's methods without modify_rpc_method_allowance (impersonation)", async () => {
    const before = await entryOf('py.agent');
    const r = await pythonRpcCall(mallory, AUTH, 'update_id_rpc_authorizations', ['py.agent', { set_point: [''] }]);
    refused(r);
    expect(await entryOf('py.agent')).toEqual(before);
  });

  it('add_rpc_authorizations / delete_rpc_authorizations need modify_rpc_method_allowance and edit the entry', async () => {
    refused(await pythonRpcCall(mallory, AUTH, 'add_rpc_authorizations', ['py.agent', 'echo', ['anything']]));
    refused(await pythonRpcCall(mallory, AUTH, 'delete_rpc_authorizations', ['py.agent', 'set_point', ['can_set']]));
    expect((await pythonRpcCall(admin, AUTH, 'add_rpc_authorizations', ['py.agent', 'echo', ['can_echo']])).result).toBeNull();
    await waitFor(
      async () =>
        JSON.stringify((await entryOf('py.agent'))?.rpc_method_authorizations) ===
        JSON.stringify({ echo: ['can_echo'], set_point: ['can_set'] }),
      { what: 'add written' },
    );
    // the entry now overrides the agent's own `echo`: its next start-up call is told so
    const again = await pythonRpcCall(py, AUTH, 'update_id_rpc_authorizations', ['py.agent', { echo: [], set_point: ['can_set'] }]);
    expect(again.result).toEqual({ echo: ['can_echo'], set_point: ['can_set'] });
    expect((await pythonRpcCall(admin, AUTH, 'delete_rpc_authorizations', ['py.agent', 'set_point', ['can_set']])).result).toBeNull();
    await waitFor(
      async () =>
        JSON.stringify((await entryOf('py.agent'))?.rpc_method_authorizations?.valueOf()) ===
        JSON.stringify({ echo: ['can_echo'], set_point: [''] }),
      { what: 'delete written' },
    );
  });

  it('pushes changed authorizations to a running agent (auth.set_multiple_rpc_authorizations) and takes its start-up sync', async () => {
    const keys = generateKeyPair();
    await platform.authorize(keys.public, { identity: 'ts.agent' });
    const agent = await createZmqAgent({
      identity: 'ts.agent',
      address: platform.tcpAddress,
      serverKey: platform.serverkey ?? '',
      publicKey: keys.public,
      secretKey: keys.secret,
      vipHome: platform.home,
      auth: { syncRpcAuthorizations: true },
    });
    agents.push(agent);
    agent.rpc.export('secret', () => 42, { allow: 'can_secret' });
    agent.rpc.export('open_door', () => 'open');
    await agent.start();
    await agent.auth.synced;
    expect((await entryOf('ts.agent'))?.rpc_method_authorizations).toEqual({ secret: ['can_secret'], open_door: [] });
    await pythonRpcCall(admin, AUTH, 'add_rpc_authorizations', ['ts.agent', 'open_door', ['can_open']]);
    await waitFor(() => JSON.stringify(agent.rpc.allowOf('open_door')) === '["can_open"]', { what: 'push applied', timeoutMs: 10_000 });
    // and the agent refuses the same change from anyone without the capability
    refused(await pythonRpcCall(mallory, 'ts.agent', 'auth.set_rpc_authorizations', ['open_door', []]));
    expect(agent.rpc.allowOf('open_door')).toEqual(['can_open']);
    expect((await pythonRpcCall(py, 'ts.agent', 'auth.get_all_rpc_authorizations')).result).toMatchObject({
      secret: ['can_secret'],
      open_door: ['can_open'],
    });
    expect((await pythonRpcCall(py, 'ts.agent', 'auth.get_rpc_authorizations', ['health.set_status'])).result).toEqual([]);
  });
});

describe('platform.auth user lookups', () => {
  it('get_capabilities / get_groups / get_roles answer for the caller, and hide other users under restricted access', async () => {
    expect((await pythonRpcCall(admin, AUTH, 'get_capabilities', ['admin.tool'])).result).toEqual({
      allow_auth_modifications: null,
      modify_rpc_method_allowance: null,
    });
    expect((await pythonRpcCall(admin, AUTH, 'get_groups', ['admin.tool'])).result).toEqual([]);
    expect((await pythonRpcCall(admin, AUTH, 'get_roles', ['admin.tool'])).result).toEqual([]);
    expect((await pythonRpcCall(mallory, AUTH, 'get_capabilities', ['admin.tool'])).result).toEqual([]);
    expect((await pythonRpcCall(mallory, AUTH, 'get_authorizations', ['admin.tool'])).result).toBeNull();
    expect((await pythonRpcCall(mallory, AUTH, 'get_authorizations', ['mallory'])).result).toEqual([{}, [], []]);
  });
});

describe('platform.auth credential decisions', () => {
  it('lists a refused key as pending, and approves, denies and deletes it only for allow_auth_modifications', async () => {
    const stranger = RawVipClient.connect({ address: platform.tcpAddress, identity: 'stranger', serverKey: platform.serverkey });
    try {
      await waitFor(() => stranger.authFailures > 0 || stranger.handshakes > 0, { what: 'refusal', timeoutMs: 10_000 }).catch(
        () => undefined,
      );
      let pending: { user_id: string; credentials: string }[] = [];
      await waitFor(
        async () => {
          const r = await pythonRpcCall(admin, AUTH, 'get_pending_authorizations');
          pending = (r.result as typeof pending) ?? [];
          return pending.some((p) => p.credentials === stranger.keys.public);
        },
        { what: 'pending credential', timeoutMs: 15_000 },
      );
      const userId = pending.find((p) => p.credentials === stranger.keys.public)?.user_id ?? '';
      refused(await pythonRpcCall(mallory, AUTH, 'get_pending_authorizations'));
      refused(await pythonRpcCall(mallory, AUTH, 'approve_authorization', [userId]));
      refused(await pythonRpcCall(mallory, AUTH, 'auth_file.read'));
      refused(
        await pythonRpcCall(mallory, AUTH, 'auth_file.add', [
          { credentials: generateKeyPair().public, user_id: 'evil', capabilities: { allow_auth_modifications: null } },
        ]),
      );
      expect((await pythonRpcCall(admin, AUTH, 'approve_authorization', [userId])).result).toBeNull();
      await platform.waitForLog('auth.reloaded', { timeoutMs: 10_000 }).catch(() => undefined);
      const approved = (await pythonRpcCall(admin, AUTH, 'get_approved_authorizations')).result as { user_id: string; retries: number }[];
      expect(approved).toContainEqual(
        expect.objectContaining({ user_id: userId, credentials: stranger.keys.public, mechanism: 'CURVE', retries: 0 }),
      );
      expect((await pythonRpcCall(admin, AUTH, 'deny_authorization', [userId])).result).toBeNull();
      await waitFor(
        async () =>
          ((await pythonRpcCall(admin, AUTH, 'get_denied_authorizations')).result as { user_id: string }[]).some(
            (d) => d.user_id === userId,
          ),
        { what: 'denied' },
      );
      expect((await pythonRpcCall(admin, AUTH, 'delete_authorization', [userId])).result).toBeNull();
      const file = (await pythonRpcCall(admin, AUTH, 'auth_file.read')).result as { deny: { user_id: string }[] };
      expect(file.deny.some((d) => d.user_id === userId)).toBe(false);
    } finally {
      await stranger.close();
    }
  });
});

describe('platform.auth auth_file.* (vctl auth over RPC)', () => {
  it('reads, adds, finds, updates and removes entries, and sets groups and roles, for allow_auth_modifications', async () => {
    const key = generateKeyPair().public;
    expect(
      (
        await pythonRpcCall(admin, AUTH, 'auth_file.add', [
          { credentials: key, user_id: 'rpc.added', identity: 'rpc.added', capabilities: { can_x: null } },
        ])
      ).result,
    ).toBeNull();
    const found = (await pythonRpcCall(admin, AUTH, 'auth_file.find_by_credentials', [key])).result as { user_id: string }[];
    expect(found.map((e) => e.user_id)).toEqual(['rpc.added']);
    const read = async () =>
      (await pythonRpcCall(admin, AUTH, 'auth_file.read')).result as {
        allow: { user_id: string; comments: string | null }[];
        groups: unknown;
        roles: unknown;
      };
    const index = (await read()).allow.findIndex((e) => e.user_id === 'rpc.added');
    expect(index).toBeGreaterThan(0);
    // keyword arguments, as vctl sends them
    const updated = await pythonRpcCall(admin, AUTH, 'auth_file.update_by_index', [], {
      kwargs: { auth_entry: { credentials: key, user_id: 'rpc.added', comments: 'edited over RPC' }, index, is_allow: true },
    });
    expect(updated.error).toBeUndefined();
    expect((await read()).allow[index]).toMatchObject({ user_id: 'rpc.added', comments: 'edited over RPC' });
    expect((await pythonRpcCall(admin, AUTH, 'auth_file.set_roles', [{ operator: ['can_x'] }])).result).toBeNull();
    expect((await pythonRpcCall(admin, AUTH, 'auth_file.set_groups', [{ ops: ['operator'] }])).result).toBeNull();
    expect(await read()).toMatchObject({ groups: { ops: ['operator'] }, roles: { operator: ['can_x'] } });
    expect((await pythonRpcCall(admin, AUTH, 'auth_file.remove_by_credentials', [key])).result).toBeNull();
    expect((await read()).allow.some((e) => e.user_id === 'rpc.added')).toBe(false);
    const bad = await pythonRpcCall(admin, AUTH, 'auth_file.remove_by_index', [999]);
    expect(bad.error?.data?.detail).toMatch(/no allow entry at index 999/);
    refused(await pythonRpcCall(mallory, AUTH, 'auth_file.set_roles', [{ everyone: ['allow_auth_modifications'] }]));
    expect((await pythonRpcCall(admin, AUTH, 'get_authorization', ['some-csr'])).result).toBeNull();
    refused(await pythonRpcCall(mallory, AUTH, 'get_authorization_status', ['some-csr']));
  });
});
