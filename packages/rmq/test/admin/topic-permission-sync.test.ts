import { describe, expect, it } from 'vitest';
import { AgentPermissionCheck } from '../../src/admin/agent-permission-check.js';
import { agentPermissions, type Permissions } from '../../src/admin/rabbitmq-management.js';
import { syncTopicPermissions, type TopicPermissionStore } from '../../src/admin/topic-permission-sync.js';
import type { TopicPermissions } from '../../src/admin/topic-permissions.js';

/** In-memory users, permissions and topic permissions (pure logic; the real API is tested on the broker). */
class FakeBroker implements TopicPermissionStore {
  readonly users = new Set<string>();
  readonly perms = new Map<string, Permissions>();
  readonly topics = new Map<string, TopicPermissions[]>();
  readonly calls: string[] = [];
  failTopics = false;
  async getUser(user: string): Promise<unknown> {
    return this.users.has(user) ? { name: user } : undefined;
  }
  async getPermissions(vhost: string, user: string): Promise<Permissions | undefined> {
    return this.perms.get(`${vhost}/${user}`);
  }
  async setPermissions(vhost: string, user: string, p: Permissions): Promise<void> {
    this.perms.set(`${vhost}/${user}`, p);
  }
  async getTopicPermissions(vhost: string, user: string): Promise<TopicPermissions[] | undefined> {
    this.calls.push(`GET ${user}`);
    if (this.failTopics) throw new Error('management down');
    const l = this.topics.get(`${vhost}/${user}`);
    return l && l.length > 0 ? l : undefined;
  }
  async setTopicPermissions(vhost: string, user: string, p: TopicPermissions): Promise<void> {
    this.calls.push(`PUT ${user} ${p.exchange}`);
    const l = (this.topics.get(`${vhost}/${user}`) ?? []).filter((t) => t.exchange !== p.exchange);
    this.topics.set(`${vhost}/${user}`, [...l, p]);
  }
  async clearTopicPermissions(vhost: string, user: string, exchange: string): Promise<void> {
    this.calls.push(`DELETE ${user} ${exchange}`);
    this.topics.set(
      `${vhost}/${user}`,
      (this.topics.get(`${vhost}/${user}`) ?? []).filter((t) => t.exchange !== exchange),
    );
  }
}

const W: TopicPermissions = { exchange: 'volttron', write: '^(?!__pubsub__\\.inst\\.foo)', read: '.*' };

describe('syncTopicPermissions', () => {
  it('one GET; PUT only when absent or different; DELETE only when present and unwanted; other exchanges untouched', async () => {
    const b = new FakeBroker();
    expect(await syncTopicPermissions(b, 'vh', 'u', undefined)).toBe('ok');
    expect(await syncTopicPermissions(b, 'vh', 'u', W)).toBe('set');
    expect(await syncTopicPermissions(b, 'vh', 'u', W)).toBe('ok');
    expect(await syncTopicPermissions(b, 'vh', 'u', { ...W, write: '.*' })).toBe('set');
    await b.setTopicPermissions('vh', 'u', { exchange: 'amq.topic', write: 'x', read: '.*' });
    expect(await syncTopicPermissions(b, 'vh', 'u', undefined)).toBe('cleared');
    expect(b.topics.get('vh/u')).toEqual([{ exchange: 'amq.topic', write: 'x', read: '.*' }]);
    expect(await syncTopicPermissions(b, 'vh', 'u', undefined)).toBe('ok');
    expect(b.calls).toEqual([
      'GET u',
      'GET u',
      'PUT u volttron',
      'GET u',
      'GET u',
      'PUT u volttron',
      'PUT u amq.topic',
      'GET u',
      'DELETE u volttron',
      'GET u',
    ]);
  });
});

describe('AgentPermissionCheck with topics', () => {
  function setUp(wanted: (user: string) => TopicPermissions | undefined) {
    const b = new FakeBroker();
    const check = new AgentPermissionCheck({
      store: b,
      topics: { store: b, wanted },
      vhost: 'vh',
      instanceName: 'inst',
      recheckMs: 0,
      retryFailedMs: 0,
    });
    return { b, check };
  }

  it('syncs the topic permission of a user that exists; a shared user gets nothing', async () => {
    const { b, check } = setUp((u) => (u === 'inst.a1' ? W : undefined));
    expect(await check.check('guestly')).toBe('sharedUser');
    expect(b.calls).toEqual([]);
    b.users.add('inst.a1');
    b.perms.set('vh/inst.a1', agentPermissions('inst', 'a1'));
    expect(await check.check('a1')).toBe('ok');
    expect(b.topics.get('vh/inst.a1')).toEqual([W]);
    expect(await check.check('a1')).toBe('ok');
    expect(b.calls.filter((c) => c.startsWith('PUT'))).toEqual(['PUT inst.a1 volttron']);
    expect(check.stats()).toMatchObject({ topicsSet: 1, topicsCleared: 0 });
  });

  it('a failing topic sync fails the check (counted, never thrown)', async () => {
    const { b, check } = setUp(() => W);
    b.users.add('inst.a1');
    b.failTopics = true;
    expect(await check.check('a1')).toBe('failed');
    expect(check.stats()).toMatchObject({ failed: 1, topicsSet: 0 });
    b.failTopics = false;
    expect(await check.check('a1')).toBe('ok'); // the permissions were repaired by the failed check already
    expect(check.stats()).toMatchObject({ failed: 1, ok: 1, topicsSet: 1 });
  });

  it('no topics option: no topic counters, no topic calls', async () => {
    const b = new FakeBroker();
    b.users.add('inst.a1');
    const check = new AgentPermissionCheck({ store: b, vhost: 'vh', instanceName: 'inst' });
    await check.check('a1');
    expect(b.calls).toEqual([]);
    expect(check.stats()).not.toHaveProperty('topicsSet');
  });
});
