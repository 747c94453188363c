import { describe, expect, it } from 'vitest';
import type { LogFields, Logger } from '@vip/protocol';
import { AgentPermissionCheck, permissionDecision, type PermissionStore } from '../../src/admin/agent-permission-check.js';
import { agentPermissions, type Permissions } from '../../src/admin/rabbitmq-management.js';

/** The decision and its bookkeeping; the real management calls are tested on the broker. */
const wanted = agentPermissions('inst', 'a1');

/** An in-memory broker of users and permissions (pure logic under test, so a fake is fine). */
class FakeStore implements PermissionStore {
  readonly users = new Set<string>();
  readonly perms = new Map<string, Permissions>();
  readonly calls: string[] = [];
  failing: Error | undefined;
  gate: Promise<void> | undefined;
  async getUser(user: string): Promise<unknown> {
    this.calls.push(`getUser ${user}`);
    await this.gate;
    if (this.failing) throw this.failing;
    return this.users.has(user) ? { name: user } : undefined;
  }
  async getPermissions(vhost: string, user: string): Promise<Permissions | undefined> {
    this.calls.push(`getPermissions ${vhost} ${user}`);
    return this.perms.get(`${vhost}/${user}`);
  }
  async setPermissions(vhost: string, user: string, p: Permissions): Promise<void> {
    this.calls.push(`setPermissions ${vhost} ${user}`);
    this.perms.set(`${vhost}/${user}`, p);
  }
}

function recordingLogger(lines: string[]): Logger {
  const log = (level: string) => (event: string, fields?: LogFields) => lines.push(`${level} ${event} ${fields?.user ?? ''}`);
  const l: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: () => l };
  return l;
}

function setUp(options: { recheckMs?: number; retryFailedMs?: number; failureLogMs?: number } = {}) {
  const store = new FakeStore();
  const clock = { t: 1_000 };
  const logs: string[] = [];
  const check = new AgentPermissionCheck({
    store,
    vhost: 'vh',
    instanceName: 'inst',
    logger: recordingLogger(logs),
    now: () => clock.t,
    ...options,
  });
  return { store, clock, logs, check };
}

describe('permissionDecision', () => {
  it('nothing to do without a user; ok when equal; set when absent or any part differs', () => {
    expect(permissionDecision(false, undefined, wanted)).toBe('sharedUser');
    expect(permissionDecision(true, { ...wanted }, wanted)).toBe('ok');
    expect(permissionDecision(true, undefined, wanted)).toBe('set');
    expect(permissionDecision(true, { ...wanted, configure: '' }, wanted)).toBe('set');
    expect(permissionDecision(true, { ...wanted, write: '.*' }, wanted)).toBe('set');
    expect(permissionDecision(true, { ...wanted, read: 'volttron' }, wanted)).toBe('set');
  });
});

describe('AgentPermissionCheck', () => {
  it('leaves an agent on a shared user alone, repairs a damaged user, accepts a correct one', async () => {
    const { store, check, logs } = setUp();
    expect(await check.check('guestly')).toBe('sharedUser');
    expect(store.calls).toEqual(['getUser inst.guestly']);

    store.users.add('inst.a1');
    store.perms.set('vh/inst.a1', { ...wanted, configure: '' });
    expect(await check.check('a1')).toBe('repaired');
    expect(store.perms.get('vh/inst.a1')).toEqual(wanted);
    expect(logs).toContain('info rmq.permissions.repaired inst.a1');

    store.users.add('inst.a2');
    store.perms.set('vh/inst.a2', agentPermissions('inst', 'a2'));
    expect(await check.check('a2')).toBe('ok');
    expect(store.calls.filter((c) => c.startsWith('setPermissions'))).toEqual(['setPermissions vh inst.a1']);

    store.users.add('inst.a3'); // a user without permissions on this vhost gets them
    expect(await check.check('a3')).toBe('repaired');
    expect(check.stats()).toEqual({ checked: 4, sharedUser: 1, ok: 1, repaired: 2, failed: 0, recent: 0 });
  });

  it('asks again only after recheckMs, or at once after forget (the peer was gone)', async () => {
    const { store, clock, check } = setUp({ recheckMs: 30_000 });
    store.users.add('inst.a1');
    expect(await check.check('a1')).toBe('repaired');
    store.perms.set('vh/inst.a1', { ...wanted, read: '' }); // damaged again meanwhile
    clock.t += 29_999;
    expect(check.check('a1')).toBe('recent'); // synchronous: nothing to wait for
    clock.t += 1;
    expect(await check.check('a1')).toBe('repaired');
    store.perms.set('vh/inst.a1', { ...wanted, read: '' });
    expect(check.check('a1')).toBe('recent');
    check.forget('a1');
    expect(await check.check('a1')).toBe('repaired');
    expect(check.stats()).toMatchObject({ checked: 3, repaired: 3, recent: 2 });
  });

  it('shares one request between concurrent checks of an identity', async () => {
    const { store, check } = setUp();
    let open!: () => void;
    store.gate = new Promise<void>((resolve) => (open = resolve));
    const a = check.check('x');
    const b = check.check('x');
    expect(b).toBe(a);
    open();
    expect(await a).toBe('sharedUser');
    expect(store.calls).toEqual(['getUser inst.x']);
    expect(check.stats().checked).toBe(1);
  });

  it('counts every failure, never rejects, logs once per identity per failureLogMs, retries after retryFailedMs', async () => {
    const { store, clock, check, logs } = setUp({ retryFailedMs: 5_000, failureLogMs: 60_000 });
    store.failing = new Error('management down');
    expect(await check.check('a1')).toBe('failed');
    expect(check.check('a1')).toBe('recent');
    clock.t += 5_000;
    expect(await check.check('a1')).toBe('failed');
    expect(await check.check('b1')).toBe('failed');
    expect(logs.filter((l) => l.startsWith('warn'))).toEqual([
      'warn rmq.permissions.check-failed inst.a1',
      'warn rmq.permissions.check-failed inst.b1',
    ]);
    clock.t += 60_000;
    expect(await check.check('a1')).toBe('failed');
    expect(logs.filter((l) => l.startsWith('warn'))).toHaveLength(3);
    store.failing = undefined;
    clock.t += 5_000;
    expect(await check.check('a1')).toBe('sharedUser');
    expect(check.stats()).toEqual({ checked: 5, sharedUser: 1, ok: 0, repaired: 0, failed: 4, recent: 1 });
  });
});
