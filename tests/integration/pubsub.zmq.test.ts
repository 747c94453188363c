import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, onTestFinished } from 'vitest';
import { createZmqAgent } from '@vip/agent/zmq';
import { generateKeyPair } from '@vip/protocol';
import { freePort, startPlatform, waitFor } from '@vip/testing';
import { AuthFile } from '@vip/auth';
import { agentPlatform, describePubSubBehaviour, withPubSub, type PubSubPlatform, type PubSubPlatformOptions } from './pubsub.suite.js';

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
  return agentPlatform(
    async (identity) => {
      const pair = generateKeyPair();
      await platform.authorize(pair.public, { identity, userId: identity, capabilities: [...(options.capabilities?.[identity] ?? [])] });
      return createZmqAgent({
        identity,
        address: platform.tcpAddress,
        serverKey: platform.serverkey ?? '',
        publicKey: pair.public,
        secretKey: pair.secret,
        vipHome: platform.home,
      });
    },
    () => platform.close(),
  );
}

describePubSubBehaviour({ name: 'platform process (zmq, tcp + CURVE)', start: zmqPlatform });

describe('pubsub across a platform restart (zmq)', () => {
  it("re-synchronizes an agent's subscriptions after it reconnects", async () => {
    const home = await mkdtemp(join(tmpdir(), 'vip-pubsub-restart-'));
    onTestFinished(() => rm(home, { recursive: true, force: true }));
    const address = `tcp://127.0.0.1:${await freePort()}`;
    const launch = () => startPlatform({ args: ['--vip-home', home, '--vip-address', address], logLevel: 'info' });
    let platform = await launch();
    onTestFinished(() => platform.close());
    const authFile = new AuthFile({ path: join(home, 'auth.json') });
    const connect = async (identity: string) => {
      const pair = generateKeyPair();
      await authFile.add({ credentials: pair.public, user_id: identity, comments: 'pubsub restart test' });
      await platform.authLoaded({ vipHome: home, timeoutMs: 10_000 });
      const agent = await createZmqAgent({
        identity,
        address,
        serverKey: platform.serverkey ?? '',
        publicKey: pair.public,
        secretKey: pair.secret,
        vipHome: home,
        reconnectIntervalMs: 100,
      });
      const pubsub = withPubSub(agent);
      onTestFinished(() => agent.close());
      await agent.start();
      return { agent, pubsub };
    };
    const got: string[] = [];
    const { agent: subAgent, pubsub: sub } = await connect('restart.sub');
    await sub.subscribe('r/', (_p, _s, _b, topic) => void got.push(topic));
    await platform.close();
    platform = await launch();
    await waitFor(() => subAgent.connected, { timeoutMs: 20_000, what: 'subscriber reconnected and welcomed' });
    const { pubsub: pub } = await connect('restart.pub');
    // the new router learnt the subscription only from the agent's synchronize
    await waitFor(async () => (await pub.publish('r/1')) === 1, { timeoutMs: 10_000, what: 'subscription restored by synchronize' });
    await waitFor(() => got.includes('r/1'));
  });
});
