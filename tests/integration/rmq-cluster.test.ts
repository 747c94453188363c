import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { Agent } from '@vip/agent';
import { createRmqAgent, type RmqPubSubSubsystem } from '@vip/agent/rmq';
import { RmqPubSub } from '@vip/rmq/pubsub';
import { startPlatform, waitFor } from '@vip/testing';
import { PrivateRabbitMq } from './private-rabbitmq.js';

/**
 * A platform and its agents on a PRIVATE 3-node RabbitMQ cluster (tools/rmq-cluster.sh, never the
 * shared broker): the node everyone is connected to is SIGKILLed while agents publish and call,
 * then started again. Links fail over to the other nodes (`failoverUrls`); the persistent
 * subscriptions are quorum queues (the default on a cluster): publishes keep resolving while the
 * node is down (a publisher's confirm channel is renewed after a nack: RmqPubSub's confirmRenewals),
 * and every publish that resolved reaches each of them exactly once (redeliveries of messages whose
 * ack died with the node are dropped by the subscriber). The management API is on node 3, which stays up.
 */
const cluster = new PrivateRabbitMq({ base: 5781, nodes: 3, prefix: 'vip-ct' }); // a per-run directory, made by start
const VHOST = 'vip-cluster-test';
const INSTANCE = 'clu';
const FAST_RECONNECT = { initialDelayMs: 200, maxDelayMs: 1_000 } as const;

// start may first wait (up to 10 min) for another private-RabbitMQ suite to finish
beforeAll(async () => {
  await cluster.start();
}, 1_080_000);
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
    const publishErrors = new Map<string, number>(); // reported below: why publishes failed, by message
    const tally = { calls: 0, callsFailed: 0, publishFailed: 0 };
    let stop = false;
    let nodeDown = false; // node 1 is started again in `finally` if a failure left it down: the next test needs it
    const publishing = (async () => {
      for (let i = 0; i < 50_000 && !stop; i++) {
        try {
          await cli.pubsub!.publish('load/x', { message: i });
          resolved.push(i);
        } catch (err) {
          const why = (err as Error).message;
          publishErrors.set(why, (publishErrors.get(why) ?? 0) + 1);
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
      nodeDown = true;
      const killedAt = Date.now();
      const before = { calls: tally.calls, published: resolved.length };
      // every link was on node 1: they fail over to nodes 2 and 3 by themselves, and the quorum
      // queues (two of three members up) keep taking publishes
      await waitFor(() => tally.calls >= before.calls + 20 && resolved.length >= before.published + 50, {
        timeoutMs: 60_000,
        what: 'RPC and publishes through the surviving nodes',
      });
      const failoverMs = Date.now() - killedAt;
      const publishedWhileDown = resolved.length - before.published;
      expect(await cli.peerlist.list()).toEqual(expect.arrayContaining(['srv', 'cli', 'keep1', 'keep2'])); // the platform serves
      await cluster.restart(1);
      nodeDown = false;
      const after = { calls: tally.calls, published: resolved.length };
      await waitFor(() => tally.calls >= after.calls + 20 && resolved.length >= after.published + 50, {
        timeoutMs: 60_000,
        what: 'traffic once node 1 is back',
      });
      const { unconfirmed, confirmRenewals } = (cli.pubsub as RmqPubSubSubsystem).broker!.stats();
      console.info(
        JSON.stringify({ failoverMs, publishedWhileDown, ...tally, published: resolved.length, unconfirmed, confirmRenewals }),
        JSON.stringify([...publishErrors]),
      );
    } finally {
      stop = true;
      await Promise.all([publishing, calling]);
      if (nodeDown) await cluster.restart(1);
    }
    expect(await Promise.race([platform.exited.then(() => 'exited'), Promise.resolve('running')])).toBe('running');
    for (const [i, map] of got.entries()) {
      await waitFor(() => resolved.every((n) => map.has(n)), { timeoutMs: 30_000, what: `every resolved publish at keep${i + 1}` });
      const twice = [...map].filter(([, c]) => c > 1).map(([n]) => n);
      expect(twice, `keep${i + 1} got these more than once`).toEqual([]);
    }
  });

  it('a publisher whose first publish to a quorum queue follows the death of its leader gets through', { timeout: 300_000 }, async () => {
    // RabbitMQ builds a channel's side of a quorum queue at its first publish there, from the
    // queue's record; just after the leader's node dies that record still names it, and such a
    // channel was nacked for as long as the node stayed down. The publisher is connected (to a
    // surviving node) before the kill and publishes to the queue for the first time right after.
    const vhost = `${VHOST}-late`; // its own: this test does not depend on the first one's platform
    await cluster.ctl(3, 'add_vhost', vhost);
    await cluster.ctl(3, 'set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*');
    const link = (n: number, identity: string): RmqPubSub => {
      const others = [1, 2, 3].filter((m) => m !== n).map((m) => cluster.address(m));
      const ps = new RmqPubSub({
        url: cluster.url(n),
        failoverUrls: others,
        vhost,
        instanceName: INSTANCE,
        identity,
        declareTopology: true,
        reconnect: FAST_RECONNECT,
      });
      onTestFinished(() => ps.close());
      return ps;
    };
    const sub = link(2, 'late-sub');
    const got = new Map<number, number>();
    await sub.open();
    await sub.subscribe('late/', (d) => got.set(Number(d.message), (got.get(Number(d.message)) ?? 0) + 1), { persistentQueue: 'late' });
    const rows = await cluster.ctl(3, 'list_queues', '-p', vhost, 'name', 'leader');
    const leader = /clu\.late-sub\.pubsub\.persistent\.late\s+vip-ct(\d)@/.exec(rows)?.[1];
    expect(leader, rows).toBeDefined();
    const dead = Number(leader);
    const pub = link(dead === 3 ? 1 : 3, 'late-pub');
    await pub.open();
    await pub.publish({ topic: 'other/x', message: -1 }); // the channel is in use, not yet for the queue
    await cluster.kill(dead);
    const resolved: number[] = [];
    let failed = 0;
    try {
      for (let i = 0; resolved.length < 20 && i < 600; i++) {
        try {
          await pub.publish({ topic: 'late/x', message: i });
          resolved.push(i);
        } catch {
          failed += 1;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      console.info(JSON.stringify({ dead, resolved: resolved.length, failed, ...pub.stats() }));
      expect(resolved.length, 'publishes resolved while the queue leader node was down').toBe(20);
      await waitFor(() => resolved.every((n) => got.has(n)), { timeoutMs: 30_000, what: 'every resolved publish at the subscriber' });
      expect([...got].filter(([, c]) => c > 1)).toEqual([]);
    } finally {
      await cluster.restart(dead);
    }
  });
});
