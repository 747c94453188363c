import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import amqp, { type ConsumeMessage } from 'amqplib';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { createRmqAgent, RmqPubSubSubsystem } from '@vip/agent/rmq';
import { generateKeyPair } from '@vip/protocol';
import { AMQP_URL, type TestVhost } from '@vip/testing';
import { freshVhost } from './helpers/broker.js';
import { startPlatform, waitFor } from '@vip/testing';
import {
  agentPlatform,
  describePubSubBehaviour,
  type AgentNeeds,
  type PubSubPlatform,
  type PubSubPlatformOptions,
} from './pubsub.suite.js';

/**
 * The pubsub behaviour suite against a real platform PROCESS on RabbitMQ (`--message-bus rmq`),
 * twice: agents on VOLTTRON's broker pubsub (the default of @vip/agent/rmq: publishes and
 * subscription queues on the `volttron` exchange, counts and list from the broker's bindings),
 * and agents on the router path (the platform's PubSubService over AMQP).
 *
 * Broker pubsub differs in two cases, which say so through AgentNeeds:
 * - `in/`, `out/` prefixes need ZMQ character semantics (on RMQ a trailing `/` is an empty
 *   segment): those agents use `prefixMatch: 'character'`;
 * - protected topics are enforced by the router; broker publishes bypass it (VOLTTRON relies on
 *   broker permissions), so that case's agents publish through the router.
 *
 * One private vhost for the file (freshVhost, which also holds the broker lease), one instance
 * name per platform. Agents keep RabbitMQ's default VIP user `<instance>.<identity>`; the platform
 * maps auth.json capabilities (user id = identity here) onto it.
 */
let vhost: Promise<TestVhost> | undefined;
let platforms = 0;
afterAll(async () => {
  if (vhost) await (await vhost).dispose();
});

function rmqPlatform(via: 'broker' | 'router') {
  return async (options: PubSubPlatformOptions = {}): Promise<PubSubPlatform> => {
    const vh = await (vhost ??= freshVhost('pubsub'));
    const instanceName = `ps${++platforms}`;
    // shared login (opt-in): guest agents and a Python-shaped raw client; sender proofs: rmq-sender-identity.test.ts
    const platform = await startPlatform({ bus: 'rmq', rmq: { vhost: vh.vhost, url: AMQP_URL, sharedLogin: true }, instanceName });
    try {
      if (options.protectedTopics !== undefined) {
        const loaded = platform.waitForLog('pubsub.config.loaded', { timeoutMs: 10_000 });
        await writeFile(join(platform.home, 'protected_topics.json'), JSON.stringify(options.protectedTopics));
        await loaded;
      }
      for (const [userId, caps] of Object.entries(options.capabilities ?? {})) {
        // the key is never used on RMQ: the entry only carries the user's capabilities
        await platform.authorize(generateKeyPair().public, { userId, capabilities: [...caps] });
      }
    } catch (err) {
      await platform.close();
      throw err;
    }
    return agentPlatform(
      (identity, needs: AgentNeeds) =>
        createRmqAgent({
          identity,
          rmq: { url: AMQP_URL, vhost: vh.vhost, instanceName },
          pubsubVia: via === 'router' || needs.routerEnforcement ? 'router' : 'broker',
          ...(needs.characterPrefixes ? { prefixMatch: 'character' as const } : {}),
        }),
      () => platform.close(),
    );
  };
}

describePubSubBehaviour({ name: 'platform process (rmq, agents on broker pubsub)', start: rmqPlatform('broker') });
describePubSubBehaviour({ name: 'platform process (rmq, agents on the router PubSubService)', start: rmqPlatform('router') });

describe('broker pubsub of @vip/agent/rmq (docs/protocol.md 7.6)', () => {
  it("is wire-compatible with a Python RMQ agent, keeps a persistent subscription's messages while the agent is away", async () => {
    const vh = await (vhost ??= freshVhost('pubsub'));
    const instanceName = `ps${++platforms}`;
    // shared login (opt-in): guest agents and a Python-shaped raw client; sender proofs: rmq-sender-identity.test.ts
    const platform = await startPlatform({ bus: 'rmq', rmq: { vhost: vh.vhost, url: AMQP_URL, sharedLogin: true }, instanceName });
    onTestFinished(() => platform.close());
    const link = { url: AMQP_URL, vhost: vh.vhost, instanceName };
    // a subscriber and a publisher shaped as VOLTTRON's rmq_pubsub.py (pika): no binding arguments, no bus filter
    const raw = await amqp.connect(`${AMQP_URL}/${encodeURIComponent(vh.vhost)}`);
    onTestFinished(() => raw.close());
    const ch = await raw.createChannel();
    const q = `${instanceName}.py.pubsub.${process.pid}`;
    await ch.assertQueue(q, { exclusive: true, autoDelete: true });
    await ch.bindQueue(q, 'volttron', `__pubsub__.${instanceName}.devices.#`);
    const pyGot: ConsumeMessage[] = [];
    await ch.consume(q, (m) => m && pyGot.push(m), { noAck: true });

    const ts = createRmqAgent({ identity: 'ts.agent', rmq: link });
    onTestFinished(() => ts.close());
    await ts.start();
    const pubsub = ts.subsystem<RmqPubSubSubsystem>('pubsub');
    expect(pubsub).toBeInstanceOf(RmqPubSubSubsystem);
    expect(await ts.pubsub?.publish('devices/ahu/1', { headers: { unit: 'C' }, message: { temp: 21 } })).toBe(1); // the Python queue
    await waitFor(() => pyGot.length === 1, { what: 'the Python-shaped subscriber got our publish' });
    const m = pyGot[0] as ConsumeMessage;
    expect(m.fields.routingKey).toBe(`__pubsub__.${instanceName}.devices.ahu.1.#`);
    expect(m.properties).toMatchObject({
      appId: `${instanceName}.ts.agent`,
      type: 'pubsub',
      contentType: 'application/json',
      headers: { recipient: '', proto: 'VIP', user: 'ts.agent' },
    });
    expect(JSON.parse(m.content.toString())).toEqual({
      sender: 'ts.agent',
      bus: '',
      headers: { unit: 'C', min_compatible_version: '5.0', max_compatible_version: '' },
      message: { temp: 21 },
    });
    const countReads = pubsub?.stats().count_requests;
    await pubsub?.publishNoWait('devices/ahu/2', { message: 2 }); // through the broker too, no count read
    await waitFor(() => pyGot.length === 2, { what: 'the Python-shaped subscriber got the publishNoWait' });
    expect(pubsub?.stats().count_requests).toBe(countReads);

    const got: string[] = [];
    await pubsub?.subscribe('alerts', (_p, sender, _b, topic, _h, message) => void got.push(`${sender}:${topic}:${String(message)}`), {
      persistentQueue: 'keep',
    });
    const body = { sender: 'py', bus: '', headers: {}, message: 'hi' };
    const pyPublish = (topic: string, message: string) =>
      ch.publish(
        'volttron',
        `__pubsub__.${instanceName}.${topic.replaceAll('/', '.')}.#`,
        Buffer.from(JSON.stringify({ ...body, message })),
        {
          appId: `${instanceName}.py`,
          type: 'pubsub',
          contentType: 'application/json',
          headers: { recipient: '', proto: 'VIP', user: 'py' },
        },
      );
    pyPublish('alerts/1', 'first');
    await waitFor(() => got.length === 1, { what: 'a Python-shaped publish delivered to our callback' });
    await ts.stop();
    pyPublish('alerts/2', 'while away');
    await ts.start(); // the subscription is declared again with the same durable queue
    await waitFor(() => got.length === 2, { what: 'the message kept while the agent was away' });
    expect(got).toEqual(['py:alerts/1:first', 'py:alerts/2:while away']);
    await pubsub?.unsubscribe('alerts'); // its last prefix: the durable queue goes too
  });
});
