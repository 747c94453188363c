// An @vip/agent whose first connection the router can never answer (issue 10, item 1.6): its
// routing id is held by another connection, so libzmq refuses the agent's connection as a
// duplicate for good and its hello is never read. The agent must reopen its socket (a fresh
// connection, a fresh admission) rather than say hello again on the dead one forever.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { generateKeyPair } from '@vip/protocol';
import { openRawClient, routerStats, startPlatform, waitFor, type PlatformProcess } from '@vip/testing';
import { createZmqAgent } from '@vip/agent/zmq';

let platform: PlatformProcess;
let home: string;

beforeAll(async () => {
  platform = await startPlatform({ instanceName: 'reopen' });
  home = await mkdtemp(join(tmpdir(), 'vip-reopen-'));
});
afterAll(async () => {
  await platform?.close();
  await rm(home, { recursive: true, force: true });
});

describe('agent hello without a welcome', () => {
  it('reopens its connection once the routing id is free, and is welcomed (fails when it says hello again on the dead connection)', async () => {
    const identity = 'reopen.agent';
    // Another connection holds the routing id (its own key, pinned to that identity).
    const squatter = await openRawClient(platform, identity);
    onTestFinished(() => squatter.close());
    const keys = generateKeyPair();
    await platform.authorize(keys.public, { userId: 'reopen-user' }); // unpinned: answered, then refused by libzmq as a duplicate
    const sent = async () => (await routerStats(squatter)).transport['attribution'] as Record<string, number>;
    const before = (await sent())['admission sent'] ?? 0;
    const agent = await createZmqAgent({
      identity,
      vipHome: home,
      address: platform.tcpAddress,
      serverKey: platform.serverkey ?? '',
      publicKey: keys.public,
      secretKey: keys.secret,
      helloTimeoutMs: 8_000,
    });
    onTestFinished(() => agent.close());
    const started = agent.start();
    // Its first admission is answered (its connection then sits refused behind the squatter's).
    await waitFor(async () => ((await sent())['admission sent'] ?? 0) > before, { what: "the agent's first admission answered" });
    await squatter.close();
    await started;
    expect(agent.connected).toBe(true);
    expect(await agent.ping.ping()).toEqual([]);
    const watcher = await openRawClient(platform, 'reopen.watch');
    onTestFinished(() => watcher.close());
    expect(((await routerStats(watcher)).transport['attribution'] as Record<string, number>)['admission sent']).toBeGreaterThanOrEqual(
      before + 2,
    );
  });
});
