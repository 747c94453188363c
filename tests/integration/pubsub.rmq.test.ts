import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { createRmqAgent } from '../../packages/agent/src/rmq.js';
import { generateKeyPair } from '../../packages/protocol/src/index.js';
import { AMQP_URL, freshVhost, type TestVhost } from '../../packages/rmq/test/broker-fixture.js';
import { startPlatform } from '../../packages/testing/src/index.js';
import { agentPlatform, describePubSubBehaviour, type PubSubPlatform, type PubSubPlatformOptions } from './pubsub.suite.js';

/**
 * The pubsub behaviour suite against a real platform PROCESS on RabbitMQ (`--message-bus rmq`):
 * the router-side PubSubService (ZMQ-bus semantics carried over AMQP). One private vhost for the
 * file (freshVhost, which also holds the broker lease), one instance name per platform. Agents
 * keep RabbitMQ's default VIP user `<instance>.<identity>`; the platform maps auth.json
 * capabilities (user id = identity here) onto it.
 */
let vhost: Promise<TestVhost> | undefined;
let platforms = 0;
afterAll(async () => {
  if (vhost) await (await vhost).dispose();
});

async function rmqPlatform(options: PubSubPlatformOptions = {}): Promise<PubSubPlatform> {
  const vh = await (vhost ??= freshVhost('pubsub'));
  const instanceName = `ps${++platforms}`;
  const platform = await startPlatform({ bus: 'rmq', rmq: { vhost: vh.vhost, url: AMQP_URL }, instanceName });
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
    (identity) => createRmqAgent({ identity, rmq: { url: AMQP_URL, vhost: vh.vhost, instanceName } }),
    () => platform.close(),
  );
}

describePubSubBehaviour({ name: 'platform process (rmq, router PubSubService over RabbitMQ)', start: rmqPlatform });
