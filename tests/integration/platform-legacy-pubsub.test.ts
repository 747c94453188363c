import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from '@vip/protocol';
import { startPlatform, waitFor, type PlatformProcess } from '@vip/testing';
import { createZmqAgent } from '@vip/agent/zmq';
import type { Agent } from '@vip/agent';

// The platform's legacy RPC pubsub (docs/protocol.md 3.8) as a real process: `--legacy-pubsub true`
// starts the PubSubWrapper as identity `pubsub`; an agent written for VOLTTRON <= 4.1 talks to it
// only by RPC and receives `pubsub.push` notifications.
describe('vip-platform --legacy-pubsub', () => {
  let platform: PlatformProcess;
  const agents: Agent[] = [];
  const connect = async (identity: string, options: { pubsub?: false } = {}): Promise<Agent> => {
    const pair = generateKeyPair();
    await platform.authorize(pair.public, { identity });
    const agent = await createZmqAgent({
      identity,
      address: platform.addresses[0] ?? '',
      serverKey: platform.serverkey ?? '',
      publicKey: pair.public,
      secretKey: pair.secret,
      vipHome: platform.home,
      ...options,
    });
    agents.push(agent);
    await agent.start();
    return agent;
  };

  beforeAll(async () => {
    platform = await startPlatform({ args: ['--vip-address', 'tcp://127.0.0.1:*', '--legacy-pubsub', 'true'] });
  });
  afterAll(async () => {
    for (const a of agents) await a.close();
    await platform?.close();
  });

  it('serves RPC pubsub for a legacy agent and pushes publishes of modern agents to it', async () => {
    const legacy = await connect('legacy.agent', { pubsub: false });
    const pushed: unknown[][] = [];
    legacy.rpc.export('pubsub.push', (...params: unknown[]) => void pushed.push(params));
    const modern = await connect('modern.agent');

    await waitFor(async () => (await legacy.peerlist.list()).includes('pubsub'), { what: 'the pubsub wrapper in the peer list' });
    expect(await legacy.rpc.call('pubsub', 'pubsub.subscribe', 'devices/', '')).toBe(true);
    expect(await modern.pubsub!.publish('devices/ahu1', { message: { temp: 21 } })).toBe(1);
    await waitFor(() => pushed.length === 1, { what: 'pubsub.push to the legacy agent' });
    expect(pushed[0]?.slice(0, 3)).toEqual(['modern.agent', '', 'devices/ahu1']);
    expect(pushed[0]?.[4]).toEqual({ temp: 21 });

    const got: string[] = [];
    // not alerts/: platform.health subscribes there
    await modern.pubsub!.subscribe('notices/', (_peer, sender, _bus, topic) => void got.push(`${sender} ${topic}`));
    expect(await legacy.rpc.call('pubsub', 'pubsub.publish', 'notices/x', {}, 'hi', '')).toBe(1);
    await waitFor(() => got.length === 1, { what: 'legacy publish delivered to a modern subscriber' });
    expect(got).toEqual(['pubsub notices/x']);
  });
});
