import { describe, expect, it, onTestFinished } from 'vitest';
import { Agent, PubSubSubsystem } from '@vip/agent';
import { PubSubService } from '@vip/pubsub';
import { Router } from '@vip/router';
import { MemoryTransport, waitFor } from '@vip/testing';
import { PubSubWrapper } from '../src/legacy-pubsub/pubsub-wrapper.js';

/** Router + PubSubService over the in-memory transport; agents (started, pubsub registered) on MemoryConnections. */
async function memoryPlatform() {
  const transport = new MemoryTransport();
  const router = new Router({ identity: 'router', transport, extensions: [new PubSubService()] });
  await router.start();
  const agents: Agent[] = [];
  return {
    async agent(identity: string) {
      const agent = new Agent({ identity, connection: transport.connection(identity, { userId: identity }) });
      const pubsub = agent.subsystem<PubSubSubsystem>('pubsub') ?? agent.use((core) => new PubSubSubsystem(core));
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

describe('PubSubWrapper (legacy RPC pubsub, docs/protocol.md 3.8)', () => {
  it('subscribes for a legacy agent, pushes pubsub.push notifications once per message, publishes, lists, syncs and drops', async () => {
    const p = await memoryPlatform();
    onTestFinished(() => p.close());
    const { agent: wrapperAgent } = await p.agent('pubsub');
    const wrapper = new PubSubWrapper(wrapperAgent);
    const { agent: legacy } = await p.agent('legacy');
    const pushed: unknown[][] = [];
    legacy.rpc.export('pubsub.push', (...params: unknown[]) => void pushed.push(params));

    await legacy.rpc.call('pubsub', 'pubsub.subscribe', 'devices', '');
    await legacy.rpc.call('pubsub', 'pubsub.subscribe', 'devices/ahu', '');
    const { pubsub: modern } = await p.agent('modern');
    expect(await modern.publish('devices/ahu/1', { message: 42 })).toBe(1); // the wrapper is the one subscriber
    await waitFor(() => pushed.length === 1, { what: 'pubsub.push to the legacy agent' });
    expect(pushed[0]).toEqual(['modern', '', 'devices/ahu/1', { min_compatible_version: '3.0', max_compatible_version: '' }, 42]);

    const rows = await legacy.rpc.call<unknown[]>('pubsub', 'pubsub.list', '', '', true, false);
    expect([...rows].sort()).toEqual([
      ['', 'devices', true],
      ['', 'devices/ahu', true],
    ]);

    const got: string[] = [];
    await modern.subscribe('alerts', (_p, sender, _b, topic) => void got.push(`${sender}:${topic}`));
    expect(await legacy.rpc.call('pubsub', 'pubsub.publish', 'alerts/x', {}, 'hi', '')).toBe(1);
    await waitFor(() => got.length === 1);
    expect(got).toEqual(['pubsub:alerts/x']);

    await legacy.rpc.notify('pubsub', 'pubsub.sync', { '': ['other'] });
    await waitFor(async () => (await legacy.rpc.call<unknown[]>('pubsub', 'pubsub.list', '', '', true, false)).length === 1);
    await legacy.rpc.call('pubsub', 'pubsub.unsubscribe', null, '');
    expect(await modern.publish('other/1')).toBe(0);
    await legacy.rpc.call('pubsub', 'pubsub.subscribe', 'x', '');
    await legacy.stop();
    await waitFor(() => wrapper.stats().legacy_peers === 0, { what: 'legacy agent dropped on peerlist drop' });
    expect(await modern.publish('x/1')).toBe(0);
  });

  it('refuses to run under another identity', async () => {
    const p = await memoryPlatform();
    onTestFinished(() => p.close());
    const { agent } = await p.agent('not-pubsub');
    expect(() => new PubSubWrapper(agent)).toThrow(/identity "pubsub"/);
  });
});
