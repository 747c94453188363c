import { afterAll } from 'vitest';
import { Agent } from '../../packages/agent/src/index.js';
import { ProtectedTopics, PubSubService } from '../../packages/pubsub/src/index.js';
import { RmqConnection, RmqRouterTransport } from '../../packages/rmq/src/index.js';
import { Router } from '../../packages/router/src/index.js';
import { AMQP_URL, FAST_RECONNECT, freshVhost, type TestVhost } from '../../packages/rmq/test/broker-fixture.js';
import { describePubSubBehaviour, withPubSub, type PubSubPlatform, type PubSubPlatformOptions } from './pubsub.suite.js';

/**
 * The pubsub behaviour suite over RabbitMQ with the router-side PubSubService (ZMQ-bus semantics
 * carried over AMQP): Router + RmqRouterTransport in-process, agents on RmqConnection whose VIP
 * user is their identity (as the suite's capability maps expect). One private vhost for the file,
 * one instance name per platform.
 */
let vhost: Promise<TestVhost> | undefined;
let platforms = 0;
afterAll(async () => {
  if (vhost) await (await vhost).dispose();
});

async function rmqPlatform(options: PubSubPlatformOptions = {}): Promise<PubSubPlatform> {
  const vh = await (vhost ??= freshVhost('pubsub'));
  const topics = options.protectedTopics === undefined ? undefined : ProtectedTopics.parse(options.protectedTopics);
  if (topics !== undefined && !(topics instanceof ProtectedTopics)) throw topics;
  const instanceName = `ps${++platforms}`;
  const link = { url: AMQP_URL, vhost: vh.vhost, instanceName, reconnect: FAST_RECONNECT };
  const transport = new RmqRouterTransport({ ...link, peerSweepMs: 1_000 });
  const service = new PubSubService({ protectedTopics: topics, capabilities: options.capabilities });
  const router = new Router({ transport, instanceName, extensions: [service] });
  await router.start();
  const agents: Agent[] = [];
  return {
    async agent(identity) {
      const agent = new Agent({ identity, connection: () => new RmqConnection({ ...link, identity, user: identity }) });
      const pubsub = withPubSub(agent);
      agents.push(agent);
      await agent.start();
      return { agent, pubsub };
    },
    async close() {
      for (const a of agents) await a.close();
      await router.stop();
    },
  };
}

describePubSubBehaviour({ name: 'rmq (router PubSubService over RabbitMQ)', start: rmqPlatform });
