// An agent or router that only talks to the broker must not load broker administration: the
// management client, permissions and set-up live behind @vip/rmq/admin. Each admin module below
// is mocked by itself plus a note that it was loaded, so the test sees which modules the module
// graph of an entry pulled in (vitest keeps one graph per test file: the tests run in order).
import { describe, expect, it, vi } from 'vitest';

const loaded = vi.hoisted(() => new Set<string>());
vi.mock('../src/admin/rabbitmq-management.js', async (original) => (loaded.add('rabbitmq-management'), original()));
vi.mock('../src/admin/http-client.js', async (original) => (loaded.add('http-client'), original()));
vi.mock('../src/admin/broker-setup.js', async (original) => (loaded.add('broker-setup'), original()));
vi.mock('../src/admin/agent-permission-check.js', async (original) => (loaded.add('agent-permission-check'), original()));
vi.mock('../src/admin/hello-permission-check.js', async (original) => (loaded.add('hello-permission-check'), original()));
vi.mock('../src/admin/topic-permission-sync.js', async (original) => (loaded.add('topic-permission-sync'), original()));
vi.mock('../src/admin/topic-permissions.js', async (original) => (loaded.add('topic-permissions'), original()));

const ADMIN = [
  'agent-permission-check',
  'broker-setup',
  'hello-permission-check',
  'http-client',
  'rabbitmq-management',
  'topic-permission-sync',
  'topic-permissions',
];

describe.sequential('entry points of @vip/rmq', () => {
  it('@vip/rmq (transport) loads no admin module', async () => {
    const rmq = await import('@vip/rmq');
    expect(typeof rmq.RmqConnection).toBe('function');
    expect(typeof rmq.RmqRouterTransport).toBe('function');
    expect(Object.keys(rmq)).not.toContain('RabbitMqManagement');
    expect([...loaded]).toEqual([]);
  });

  it('@vip/rmq/pubsub loads no admin module', async () => {
    const pubsub = await import('@vip/rmq/pubsub');
    expect(typeof pubsub.RmqPubSub).toBe('function');
    expect([...loaded]).toEqual([]);
  });

  it('a router or pubsub given management options still loads nothing until its first read', async () => {
    const { RmqRouterTransport } = await import('@vip/rmq');
    const { RmqPubSub } = await import('@vip/rmq/pubsub');
    const management = { baseUrl: 'http://127.0.0.1:9', user: 'u', password: 'p' };
    new RmqRouterTransport({ url: 'amqp://127.0.0.1:9', instanceName: 'i', management });
    new RmqPubSub({ identity: 'a', url: 'amqp://127.0.0.1:9', instanceName: 'i', management });
    expect([...loaded]).toEqual([]);
    // a bad management URL is refused at construction, as before the client was loaded lazily
    const badUrl = { ...management, baseUrl: 'amqp://x' };
    expect(() => new RmqPubSub({ identity: 'a', url: 'amqp://127.0.0.1:9', instanceName: 'i', management: badUrl })).toThrow(
      /RabbitMQ management URL "amqp:\/\/x" is not an http\(s\) URL/,
    );
  });

  it('the first management read loads the client (the probe above can see a load)', async () => {
    const { ManagementReads } = await import('../src/transport/management-reads.js');
    const reads = new ManagementReads({ baseUrl: 'http://127.0.0.1:9', user: 'u', password: 'p', timeoutMs: 2_000 });
    await reads.listQueues('v').catch(() => undefined);
    expect([...loaded].sort()).toEqual(['http-client', 'rabbitmq-management']);
  });

  it('@vip/rmq/admin loads them all', async () => {
    const admin = await import('@vip/rmq/admin');
    expect(typeof admin.RabbitMqManagement).toBe('function');
    expect([...loaded].sort()).toEqual(ADMIN);
  });
});
