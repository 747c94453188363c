import { waitFor } from '@vip/testing';
import { describe, expect, it, onTestFinished } from 'vitest';
import { describePubSubBehaviour, memoryPlatform } from './pubsub.suite.js';

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
