import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { Agent } from '@vip/agent';
import { createRmqAgent, type RmqPubSubSubsystem } from '@vip/agent/rmq';
import { startPlatform, waitFor } from '@vip/testing';
import { PrivateRabbitMq } from './private-rabbitmq.js';

/**
 * A platform and its agents on a PRIVATE 3-node RabbitMQ cluster (tools/rmq-cluster.sh, never the
 * shared broker): the node everyone is connected to is SIGKILLed while agents publish and call,
 * then started again. Links fail over to the other nodes (`failoverUrls`); the persistent
 * subscriptions are quorum queues (the default on a cluster), so every publish that resolved
 * reaches each of them exactly once (redeliveries of messages whose ack died with the node are
 * dropped by the subscriber). The management API is on node 3, which stays up.
 */
const cluster = new PrivateRabbitMq({ base: 5781, nodes: 3, dir: '/tmp/vip-rmq-cluster-test', prefix: 'vip-ct' });
const VHOST = 'vip-cluster-test';
const INSTANCE = 'clu';
const FAST_RECONNECT = { initialDelayMs: 200, maxDelayMs: 1_000 } as const;

beforeAll(async () => {
  await cluster.start();
}, 480_000);
afterAll(async () => {
  await cluster.stop();
}, 120_000);

async function clusterAgent(identity: string): Promise<Agent> {
  const a = createRmqAgent({
    identity,
    rmq: {
      url: cluster.url(1),
      failoverUrls: [cluster.address(2), cluster.address(3)],
      vhost: VHOST,
      instanceName: INSTANCE,
      reconnect: FAST_RECONNECT,
    },
    management: false,
    requestTimeoutMs: 3_000,
    rpc: { timeoutMs: 3_000 },
  });
  onTestFinished(() => a.close());
  await a.start();
  return a;
}

describe('a platform on a 3-node RabbitMQ cluster', () => {
  it('keeps serving through a SIGKILLed node; every resolved publish reaches each quorum subscriber once', {
    timeout: 400_000,
  }, async () => {
    // shared login (guest on every node): the cluster shares its users anyway
    const platform = await startPlatform({
      bus: 'rmq',
      instanceName: INSTANCE,
      rmq: { vhost: VHOST, url: cluster.url(1), managementUrl: cluster.managementUrl(3), sharedLogin: true },
      args: ['--rmq-failover-urls', `${cluster.address(2)},${cluster.address(3)}`],
    });
    onTestFinished(() => platform.close());
    const srv = await clusterAgent('srv');
    srv.rpc.export('echo', (x: unknown) => x);
    const cli = await clusterAgent('cli');
    const keepers = [await clusterAgent('keep1'), await clusterAgent('keep2')];
    const got = keepers.map(() => new Map<number, number>());
    for (const [i, k] of keepers.entries()) {
      await (k.pubsub as RmqPubSubSubsystem).subscribe(
        'load/',
        (_p, _s, _b, _t, _h, message) => {
          const n = Number(message);
          got[i]!.set(n, (got[i]!.get(n) ?? 0) + 1);
        },
        { persistentQueue: 'keep' },
      );
    }
    const queues = await cluster.ctl(3, 'list_queues', '-p', VHOST, 'name', 'type');
    expect(queues).toMatch(/clu\.keep1\.pubsub\.persistent\.keep\s+quorum/);

    const resolved: number[] = [];
    const tally = { calls: 0, callsFailed: 0, publishFailed: 0 };
    let stop = false;
    const publishing = (async () => {
      for (let i = 0; i < 50_000 && !stop; i++) {
        try {
          await cli.pubsub!.publish('load/x', { message: i });
          resolved.push(i);
        } catch {
          tally.publishFailed += 1;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    })();
    const calling = (async () => {
      for (let i = 0; i < 50_000 && !stop; i++) {
        try {
          if ((await cli.rpc.call('srv', 'echo', i)) !== i) throw new Error('wrong answer');
          tally.calls += 1;
        } catch {
          tally.callsFailed += 1;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    })();
    try {
      await waitFor(() => resolved.length >= 50 && tally.calls >= 20, { timeoutMs: 30_000, what: 'traffic before the kill' });
      await cluster.kill(1);
      const killedAt = Date.now();
      const before = { calls: tally.calls, published: resolved.length };
      // every link was on node 1: they fail over to nodes 2 and 3 by themselves. Publishes while
      // node 1 is down may be refused (nacked: the publisher gets the error, nothing resolves that
      // was not kept); the invariant checked below is that every publish that resolved arrives once.
      await waitFor(() => tally.calls >= before.calls + 20, { timeoutMs: 60_000, what: 'RPC through the surviving nodes' });
      const failoverMs = Date.now() - killedAt;
      const publishedWhileDown = resolved.length - before.published;
      expect(await cli.peerlist.list()).toEqual(expect.arrayContaining(['srv', 'cli', 'keep1', 'keep2'])); // the platform serves
      await cluster.restart(1);
      const after = { calls: tally.calls, published: resolved.length };
      await waitFor(() => tally.calls >= after.calls + 20 && resolved.length >= after.published + 50, {
        timeoutMs: 60_000,
        what: 'traffic once node 1 is back',
      });
      console.info(JSON.stringify({ failoverMs, publishedWhileDown, ...tally, published: resolved.length }));
    } finally {
      stop = true;
      await Promise.all([publishing, calling]);
    }
    expect(await Promise.race([platform.exited.then(() => 'exited'), Promise.resolve('running')])).toBe('running');
    for (const [i, map] of got.entries()) {
      await waitFor(() => resolved.every((n) => map.has(n)), { timeoutMs: 30_000, what: `every resolved publish at keep${i + 1}` });
      const twice = [...map].filter(([, c]) => c > 1).map(([n]) => n);
      expect(twice, `keep${i + 1} got these more than once`).toEqual([]);
    }
  });
});
