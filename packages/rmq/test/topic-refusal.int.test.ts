import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { ConnectionStatus } from '@vip/protocol';
import { RmqPubSub, type PubSubDelivery } from '../src/pubsub.js';
import { agentPermissions, protectedTopicPermissions } from '../src/admin.js';
import { AMQP_URL, FAST_RECONNECT, freshVhost, Inbox, management, type TestVhost } from './broker-fixture.js';

/**
 * RabbitMQ topic permissions on the real broker: the management calls, and a publisher whose
 * topic write is refused (the broker closes its confirm channel): that publish rejects with
 * TopicWriteRefusedError, the link and the subscriptions keep running on a new confirm channel.
 * Broker users are global: names carry the pid, deleted afterwards.
 */
const INSTANCE = 'inst';
const identity = `refused${process.pid}`;
const user = `${INSTANCE}.${identity}`;
const password = randomBytes(9).toString('base64url');
let vh: TestVhost;

beforeAll(async () => {
  vh = await freshVhost('topic-refusal');
  await management.ensureUser(user, password);
  await management.setPermissions(vh.vhost, user, agentPermissions(INSTANCE, identity));
});
afterAll(async () => {
  await management.deleteUser(user);
  await vh?.dispose();
});

const asUser = () => ({
  url: `amqp://${encodeURIComponent(user)}:${password}@127.0.0.1:5672`,
  vhost: vh.vhost,
  instanceName: INSTANCE,
  reconnect: FAST_RECONNECT,
});

describe('RabbitMqManagement topic permissions (real API)', () => {
  it('get: undefined when none; set, read back, clear one exchange; an invalid regex is refused', async () => {
    expect(await management.getTopicPermissions(vh.vhost, user)).toBeUndefined();
    expect(await management.getTopicPermissions(vh.vhost, `nobody${process.pid}`)).toBeUndefined();
    const p = { exchange: 'volttron', write: '^(?!__pubsub__\\.inst\\.x)', read: '.*' };
    await management.setTopicPermissions(vh.vhost, user, p);
    await management.setTopicPermissions(vh.vhost, user, { exchange: 'amq.topic', write: '.*', read: '.*' });
    expect(await management.getTopicPermissions(vh.vhost, user)).toEqual(
      expect.arrayContaining([p, { exchange: 'amq.topic', write: '.*', read: '.*' }]),
    );
    await management.clearTopicPermissions(vh.vhost, user, 'amq.topic');
    await management.clearTopicPermissions(vh.vhost, user, 'amq.topic'); // absent is fine
    expect(await management.getTopicPermissions(vh.vhost, user)).toEqual([p]);
    await expect(management.setTopicPermissions(vh.vhost, user, { exchange: 'volttron', write: 'a(', read: '.*' })).rejects.toMatchObject({
      name: 'RmqSetupError',
    });
    await management.clearTopicPermissions(vh.vhost, user, 'volttron');
    expect(await management.getTopicPermissions(vh.vhost, user)).toBeUndefined();
  });
});

describe('a publish refused by topic permissions', () => {
  it('rejects with TopicWriteRefusedError; in-flight others with TransportError; a new confirm channel, subscriptions untouched', async () => {
    const wanted = protectedTopicPermissions([{ topic: 'foo', capabilities: 'can_foo' }], [], INSTANCE);
    if (!wanted) throw new Error('expected a topic permission');
    await management.setTopicPermissions(vh.vhost, user, wanted);
    onTestFinished(() => management.clearTopicPermissions(vh.vhost, user, 'volttron'));

    const ps = new RmqPubSub({ ...asUser(), identity });
    onTestFinished(() => ps.close());
    const statuses: ConnectionStatus['type'][] = [];
    ps.onStatus((s) => statuses.push(s.type));
    await ps.open();
    const own = new Inbox<PubSubDelivery>();
    await ps.subscribe(['ok', 'foo'], own.push);
    // a subscriber on the shared user sees what the broker routed
    const watcher = new RmqPubSub({ url: AMQP_URL, vhost: vh.vhost, instanceName: INSTANCE, identity: 'watcher' });
    onTestFinished(() => watcher.close());
    await watcher.open();
    const seen = new Inbox<PubSubDelivery>();
    await watcher.subscribe('', seen.push);

    const before = ps.publish({ topic: 'ok/1', message: 1 });
    const refused = ps.publish({ topic: 'foo/1', message: 2 });
    const after = ps.publish({ topic: 'ok/2', message: 3 });
    const [b, r, a] = await Promise.allSettled([before, refused, after]);
    expect(r.status).toBe('rejected');
    const err = (r as PromiseRejectedResult).reason as Error & { code: string; routingKey: string; user: string };
    expect(err).toMatchObject({ name: 'TopicWriteRefusedError', code: 'VIP_UNAUTHORIZED', routingKey: '__pubsub__.inst.foo.1.#', user });
    expect(err.message).toContain('RabbitMQ refused publish on "foo/1"');
    expect(err.message).toContain('protected topic?');
    expect(a).toMatchObject({ status: 'rejected', reason: { code: 'VIP_TRANSPORT' } }); // written behind the refused one: lost with its channel
    if (b.status === 'rejected') expect(b.reason).toMatchObject({ code: 'VIP_TRANSPORT' }); // confirmed before the close, or lost with it

    // the same connection goes on: a new confirm channel, the consumers of both subscriptions still run
    await expect(ps.publish({ topic: 'ok/3', message: 4 })).resolves.toBe(1);
    expect((await own.next((d) => d.topic === 'ok/3', 5_000, "ok/3 on the publisher's own subscription")).message).toBe(4);
    expect((await seen.next((d) => d.topic === 'ok/3', 5_000, 'ok/3 at the watcher')).message).toBe(4);
    await expect(ps.publish({ topic: 'foo/2' })).rejects.toMatchObject({ code: 'VIP_UNAUTHORIZED' });
    await expect(ps.publish({ topic: 'ok/4' })).resolves.toBe(1);
    await seen.next((d) => d.topic === 'ok/4', 5_000, 'ok/4 at the watcher');

    expect([...own.items, ...seen.items].filter((d) => d.topic.startsWith('foo'))).toEqual([]);
    expect(ps.stats()).toMatchObject({ refused: 2, confirmReopens: 2 });
    expect(ps.stats().unconfirmed).toBeGreaterThanOrEqual(1);
    expect(statuses).toEqual(['connected']); // never disconnected: no link restart
  });
});
