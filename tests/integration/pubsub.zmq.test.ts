import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Agent } from '../../packages/agent/src/index.js';
import { createZmqAgent } from '../../packages/agent/src/zmq.js';
import { generateKeyPair } from '../../packages/protocol/src/index.js';
import { startPlatform } from '../../packages/testing/src/index.js';
import { describePubSubBehaviour, withPubSub, type PubSubPlatform, type PubSubPlatformOptions } from './pubsub.suite.js';

/** The built platform app over tcp + CURVE; each agent gets its own key and auth.json entry (user id = identity). */
async function zmqPlatform(options: PubSubPlatformOptions = {}): Promise<PubSubPlatform> {
  const platform = await startPlatform({ logLevel: 'info' });
  try {
    if (options.protectedTopics !== undefined) {
      const loaded = platform.waitForLog('pubsub.config.loaded', { timeoutMs: 10_000 });
      await writeFile(join(platform.home, 'protected_topics.json'), JSON.stringify(options.protectedTopics));
      await loaded;
    }
  } catch (err) {
    await platform.close();
    throw err;
  }
  const agents: Agent[] = [];
  return {
    async agent(identity) {
      const pair = generateKeyPair();
      await platform.authorize(pair.public, { identity, userId: identity, capabilities: [...(options.capabilities?.[identity] ?? [])] });
      const agent = await createZmqAgent({
        identity, address: platform.tcpAddress, serverKey: platform.serverkey ?? '', publicKey: pair.public, secretKey: pair.secret, vipHome: platform.home,
      });
      const pubsub = withPubSub(agent);
      agents.push(agent);
      await agent.start();
      return { agent, pubsub };
    },
    async close() {
      for (const a of agents) await a.close();
      await platform.close();
    },
  };
}

describePubSubBehaviour({ name: 'platform process (zmq, tcp + CURVE)', start: zmqPlatform });
