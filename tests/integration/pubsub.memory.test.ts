import { Agent } from '../../packages/agent/src/index.js';
import { ProtectedTopics, PubSubService } from '../../packages/pubsub/src/index.js';
import { Router } from '../../packages/router/src/index.js';
import { MemoryTransport, waitFor } from '../../packages/testing/src/index.js';
import { describe, expect, it, onTestFinished } from 'vitest';
import { describePubSubBehaviour, withPubSub, type PubSubPlatform, type PubSubPlatformOptions } from './pubsub.suite.js';

/** Router + PubSubService over the in-memory transport, agents on MemoryConnections. */
async function memoryPlatform(options: PubSubPlatformOptions = {}) {
  const topics = options.protectedTopics === undefined ? undefined : ProtectedTopics.parse(options.protectedTopics);
  if (topics !== undefined && !(topics instanceof ProtectedTopics)) throw topics;
  const service = new PubSubService({ protectedTopics: topics, capabilities: options.capabilities });
  const transport = new MemoryTransport();
  const router = new Router({ identity: 'router', transport, extensions: [service] });
  await router.start();
  const agents: Agent[] = [];
  const platform: PubSubPlatform & { service: PubSubService } = {
    service,
    async agent(identity) {
      const agent = new Agent({ identity, connection: transport.connection(identity, { userId: identity }) });
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
  return platform;
}

describePubSubBehaviour({ name: 'in-memory router', start: memoryPlatform });

describe('pubsub over the in-memory router', () => {
  it('re-synchronizes when a delivery matches no callback (self-healing)', async () => {
    const p = await memoryPlatform();
    onTestFinished(() => p.close());
    const { pubsub: sub } = await p.agent('sub');
    await sub.subscribe('kept', () => {});
    // the router believes in a subscription the agent does not have
    p.service.index.add('sub', 'internal', '', Buffer.from('stale'));
    const { pubsub: pub } = await p.agent('pub');
    expect(await pub.publish('stale/1')).toBe(1);
    await waitFor(() => p.service.index.subscriptionsOf('sub').length === 1, { what: 'stale subscription removed by synchronize' });
    expect(sub.stats().unmatched).toBe(1);
  });

  it('accepts auth_update only from platform.auth, then enforces it', async () => {
    const p = await memoryPlatform({ protectedTopics: { 'write-protect': [{ topic: 'x', capabilities: 'cx' }] } });
    onTestFinished(() => p.close());
    const { pubsub } = await p.agent('w');
    await expect(pubsub.publish('x')).rejects.toMatchObject({ errnum: -32001 }); // absent from the map: refused
    const { agent: auth } = await p.agent('platform.auth');
    await auth.core.send({ peer: '', subsystem: 'pubsub', args: ['auth_update', JSON.stringify({ capabilities: { w: ['cx'] } })] });
    await waitFor(async () => (await pubsub.publish('x').catch(() => -1)) === 0, { what: 'w allowed after auth_update' });
  });
});
