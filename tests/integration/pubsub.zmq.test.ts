import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createZmqAgent } from '../../packages/agent/src/zmq.js';
import { generateKeyPair } from '../../packages/protocol/src/index.js';
import { startPlatform } from '../../packages/testing/src/index.js';
import { agentPlatform, describePubSubBehaviour, type PubSubPlatform, type PubSubPlatformOptions } from './pubsub.suite.js';

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
  return agentPlatform(async (identity) => {
    const pair = generateKeyPair();
    await platform.authorize(pair.public, { identity, userId: identity, capabilities: [...(options.capabilities?.[identity] ?? [])] });
    return createZmqAgent({
      identity, address: platform.tcpAddress, serverKey: platform.serverkey ?? '', publicKey: pair.public, secretKey: pair.secret, vipHome: platform.home,
    });
  }, () => platform.close());
}

describePubSubBehaviour({ name: 'platform process (zmq, tcp + CURVE)', start: zmqPlatform });
