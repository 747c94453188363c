import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { z } from 'zod';
import { generateKeyPair } from '@vip/protocol';
import { ProtectedTopics } from '@vip/pubsub';
import { RmqPubSub, type PubSubDelivery } from '@vip/rmq/pubsub';
import { agentPermissions, protectedTopicPermissions } from '@vip/rmq/admin';
import { AMQP_URL, FAST_RECONNECT, Inbox, type TestVhost } from '@vip/testing';
import { freshVhost, management } from './helpers/broker.js';
import { waitFor } from '@vip/testing';
import { startAgentUserPlatform, type AgentUserPlatform } from './rmq-agent-user-platform.js';

/**
 * Protected topics enforced by RabbitMQ on broker pubsub (topic permissions per agent user).
 * First the write regex alone on the real broker, against what ProtectedTopics decides for a
 * table of topics; then a platform process keeping per-agent users in line with
 * protected_topics.json and auth.json. Broker users carry the pid and are deleted afterwards.
 */
const pid = process.pid;

describe('the built write regex on the real broker refuses what ProtectedTopics refuses', () => {
  const INSTANCE = 'pt';
  const FILE = {
    'write-protect': [
      { topic: 'foo', capabilities: ['can_foo'] },
      { topic: '/bar\\/.*/', capabilities: 'can_bar' },
      { topic: 'devices/secure', capabilities: ['can_dev', 'can_foo'] },
      { topic: '/x[0-9]+/', capabilities: ['can_x'] },
      { topic: 'free', capabilities: [] },
      // non-ASCII: one JavaScript character is several bytes of the UTF-8 routing key
      { topic: 'café', capabilities: ['can_foo'] },
      { topic: '/y./', capabilities: ['can_x'] },
      { topic: '/z\u00e9[^/]/', capabilities: ['can_bar'] },
      // VOLTTRON's '^' + regex + '$' with re.match: every topic starting with k, and m (Python's $: m\n too)
      { topic: '/k|m/', capabilities: ['can_x'] },
    ],
  };
  const TOPICS = [
    'foo',
    'foo/1',
    'foobar/2',
    'fo',
    'bar/x',
    'bar/x/y',
    'bar',
    'barx',
    'devices/secure',
    'devices/secure/ahu',
    'devices/other',
    'x1',
    'x12',
    'x',
    'x1/y',
    'free/1',
    'other/topic',
    'café/1',
    'cafe/1',
    'yé',
    'ya',
    'yab',
    'zéé',
    'zé',
    'zex',
    'k',
    'kz',
    'k/1',
    'm',
    'mz',
    'zm',
    'm\n',
    'bar/x\n',
  ];
  const users = [
    { identity: `none${pid}`, caps: [] as string[] },
    { identity: `foo${pid}`, caps: ['can_foo'] },
    { identity: `most${pid}`, caps: ['can_foo', 'can_bar', 'can_dev'] },
  ];
  const password = randomBytes(9).toString('base64url');
  let vh: TestVhost;

  beforeAll(async () => {
    vh = await freshVhost('protected-table');
    for (const u of users) {
      await management.ensureUser(`${INSTANCE}.${u.identity}`, password);
      await management.setPermissions(vh.vhost, `${INSTANCE}.${u.identity}`, agentPermissions(INSTANCE, u.identity));
    }
  });
  afterAll(async () => {
    for (const u of users) await management.deleteUser(`${INSTANCE}.${u.identity}`);
    await vh?.dispose();
  });

  it.each(users)('user with capabilities $caps', async ({ identity, caps }) => {
    const user = `${INSTANCE}.${identity}`;
    const wanted = protectedTopicPermissions(FILE['write-protect'], caps, INSTANCE);
    if (wanted) await management.setTopicPermissions(vh.vhost, user, wanted);
    const topics = ProtectedTopics.parse(FILE);
    if (!(topics instanceof ProtectedTopics)) throw topics;

    const link = { vhost: vh.vhost, instanceName: INSTANCE, reconnect: FAST_RECONNECT };
    const watcher = new RmqPubSub({ ...link, url: AMQP_URL, identity: `watcher${pid}` });
    onTestFinished(() => watcher.close());
    await watcher.open();
    const seen = new Inbox<PubSubDelivery>();
    await watcher.subscribe('', seen.push);
    const pub = new RmqPubSub({ ...link, url: `amqp://${encodeURIComponent(user)}:${password}@127.0.0.1:5672`, identity });
    onTestFinished(() => pub.close());
    await pub.open();

    const got: Record<string, 'allowed' | 'refused'> = {};
    const expected: Record<string, 'allowed' | 'refused'> = {};
    for (const topic of TOPICS) {
      expected[topic] = topics.check(topic, identity, { [identity]: caps }) ? 'refused' : 'allowed';
      try {
        await pub.publish({ topic, message: topic });
        got[topic] = 'allowed';
      } catch (err) {
        expect(err).toMatchObject({ code: 'VIP_UNAUTHORIZED' });
        got[topic] = 'refused';
      }
    }
    expect(got).toEqual(expected);
    // what was allowed arrived, nothing refused did
    await pub.publish({ topic: 'other/end', message: 'end' });
    await seen.next((d) => d.topic === 'other/end', 5_000, 'the closing publish');
    expect(
      seen.items
        .map((d) => d.topic)
        .filter((t) => t !== 'other/end')
        .sort(),
    ).toEqual(TOPICS.filter((t) => expected[t] === 'allowed').sort());
    expect(pub.stats()).toMatchObject({ refused: TOPICS.filter((t) => expected[t] === 'refused').length });
  });
});

describe('a platform on RabbitMQ keeps per-agent users in line with protected_topics.json and auth.json', () => {
  const INSTANCE = `ptp${pid}`; // the platform's broker user <instance>.router is global
  const ids = { capable: `capable${pid}`, other: `other${pid}` };
  const userOf = (identity: string) => `${INSTANCE}.${identity}`;
  let p: AgentUserPlatform;

  const writeProtected = (entries: unknown[]) =>
    writeFile(join(p.platform.home, 'protected_topics.json'), JSON.stringify({ 'write-protect': entries }));
  const writeOf = async (identity: string) =>
    (await management.getTopicPermissions(p.vh.vhost, userOf(identity)))?.find((t) => t.exchange === 'volttron')?.write;

  const SyncStatsSchema = z.object({ rounds: z.number(), set: z.number(), failed: z.number() });
  const StatsSchema = z.looseObject({
    topicPermissions: SyncStatsSchema,
    router: z.looseObject({ extensions: z.looseObject({ helloChecks: z.looseObject({ topicsSet: z.number() }) }) }),
  });

  async function routerStats(): Promise<z.infer<typeof StatsSchema>> {
    const v = await p.watcher.query.query('vip-router-stats'); // the agent decodes the JSON text of the property
    return StatsSchema.parse(typeof v === 'string' ? JSON.parse(v) : v);
  }

  beforeAll(async () => {
    p = await startAgentUserPlatform('protected-platform', INSTANCE);
  });
  afterAll(async () => {
    await p?.dispose(Object.values(ids).map(userOf));
  });

  it('the capable agent publishes on foo/1 and bar/x; the other is refused, and its pubsub keeps working', async () => {
    let r = await p.vipctl('auth', 'add', '--identity', ids.capable, '--capabilities', '{"can_publish": null}');
    expect(r.code, r.err).toBe(0);
    r = await p.vipctl('auth', 'add', '--identity', ids.other);
    expect(r.code, r.err).toBe(0);
    await writeProtected([
      { topic: 'foo', capabilities: ['can_publish'] },
      { topic: '/bar\\/.*/', capabilities: ['can_publish'] },
    ]);
    // the platform syncs every agent user once the file (and auth.json) reloaded
    await waitFor(async () => (await writeOf(ids.other))?.includes('foo') && (await writeOf(ids.capable)) === undefined, {
      timeoutMs: 10_000,
      what: 'topic permission on the other agent only',
    });

    const capable = await p.agentOnOwnUser(ids.capable);
    const other = await p.agentOnOwnUser(ids.other);
    const seen: Array<{ sender: string; topic: string }> = [];
    await p.watcher.pubsub!.subscribe('', (_p, sender, _b, topic) => void seen.push({ sender, topic }));
    const otherGot: string[] = [];
    await other.pubsub!.subscribe('news', (_p, _s, _b, topic) => void otherGot.push(topic));

    expect(await capable.pubsub!.publish('foo/1', { message: 1 })).toBe(1);
    expect(await capable.pubsub!.publish('bar/x', { message: 2 })).toBe(1);
    await expect(other.pubsub!.publish('foo/1', { message: 3 })).rejects.toMatchObject({
      name: 'TopicWriteRefusedError',
      code: 'VIP_UNAUTHORIZED',
    });
    await expect(other.pubsub!.publish('bar/y', { message: 4 })).rejects.toMatchObject({ code: 'VIP_UNAUTHORIZED' });
    expect(await other.pubsub!.publish('news/1', { message: 5 })).toBe(1);
    expect(await p.watcher.pubsub!.publish('news/2', { message: 6 })).toBe(2); // the watcher counts through management: both subscribers
    await waitFor(() => otherGot.length === 2, { what: "news at the refused agent's subscription" });
    await waitFor(() => seen.some((s) => s.topic === 'news/2'), { what: 'news/2 at the watcher' });
    expect(seen.filter((s) => s.topic === 'foo/1' || s.topic.startsWith('bar/'))).toEqual([
      { sender: ids.capable, topic: 'foo/1' },
      { sender: ids.capable, topic: 'bar/x' },
    ]);
    expect(other.pubsub!.stats()).toMatchObject({ refused: 2 });

    const stats = await routerStats();
    expect(stats.topicPermissions.set).toBeGreaterThanOrEqual(1);
    expect(stats.topicPermissions.failed).toBe(0);
  });

  it('a change to protected_topics.json takes effect for broker pubsub within seconds; so does one to auth.json', async () => {
    // the hello check puts a lost topic permission back before the welcome (the agent's last stop made it forget the identity)
    await management.clearTopicPermissions(p.vh.vhost, userOf(ids.other), 'volttron');
    const before = (await routerStats()).router.extensions.helloChecks.topicsSet;
    const other = await p.agentOnOwnUser(ids.other);
    expect(await writeOf(ids.other)).toContain('foo');
    expect((await routerStats()).router.extensions.helloChecks.topicsSet).toBe(before + 1);
    await expect(other.pubsub!.publish('foo/9')).rejects.toMatchObject({ code: 'VIP_UNAUTHORIZED' });
    expect(await other.pubsub!.publish('alerts/1')).toBe(1);
    await writeProtected([
      { topic: 'foo', capabilities: ['can_publish'] },
      { topic: 'alerts', capabilities: ['can_alert'] },
    ]);
    await waitFor(async () => (await writeOf(ids.other))?.includes('alerts'), { timeoutMs: 10_000, what: 'alerts protected' });
    await expect(other.pubsub!.publish('alerts/2')).rejects.toMatchObject({ code: 'VIP_UNAUTHORIZED' });
    expect(await other.pubsub!.publish('bar/z')).toBe(1); // no longer protected

    // auth.json: give the other agent can_alert; alerts open up for it, foo stays closed
    const removed = await p.vipctl('auth', 'remove', ids.other); // the entry only: its broker user stays
    expect(removed.code, removed.err).toBe(0);
    // any key: on RabbitMQ the allow entry only carries the user's capabilities
    await p.platform.authorize(generateKeyPair().public, { userId: ids.other, capabilities: ['can_alert'] });
    await waitFor(async () => !(await writeOf(ids.other))?.includes('alerts'), {
      timeoutMs: 10_000,
      what: 'alerts open for the other agent',
    });
    expect(await other.pubsub!.publish('alerts/3')).toBe(1);
    await expect(other.pubsub!.publish('foo/2')).rejects.toMatchObject({ code: 'VIP_UNAUTHORIZED' });
  });
});
