import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { exclusiveBroker, freshVhost, rabbitmqctl, type TestVhost } from '../../packages/rmq/test/broker-fixture.js';
import { reconnected, startScenarioAgent, startScenarioRouter, trafficLoop, vip } from '../../packages/rmq/test/scenario.js';

/**
 * The one test that stops the RabbitMQ application (every test on this machine feels it): kept
 * short, the app is always started again in `finally`, and it first waits (exclusiveBroker) until
 * the other RabbitMQ test files, running in parallel, have released their virtual hosts.
 */
let vh: TestVhost;
beforeAll(async () => {
  vh = await freshVhost('restart');
});
afterAll(async () => {
  await rabbitmqctl('await_startup');
  await vh?.dispose();
});

describe('RMQ transport across a broker restart (stop_app / start_app)', () => {
  it('reconnects router and agents and messages flow again', { timeout: 240_000 }, async () => {
    const router = await startScenarioRouter(vh.vhost);
    const alice = await startScenarioAgent(vh.vhost, 'alice');
    const bob = await startScenarioAgent(vh.vhost, 'bob');
    const release = await exclusiveBroker(); // the other RabbitMQ test files finish first
    onTestFinished(release);
    const traffic = trafficLoop(alice.conn, 'bob', 60_000);
    await bob.inbox.count(() => true, 10, 10_000, 'traffic before the restart');
    try {
      await rabbitmqctl('stop_app');
    } finally {
      await rabbitmqctl('start_app');
      await rabbitmqctl('await_startup');
    }
    await Promise.all([
      reconnected(router.statuses, 'router', 40_000),
      reconnected(alice.statuses, 'alice', 40_000),
      reconnected(bob.statuses, 'bob', 40_000),
    ]);
    traffic.stop();
    await traffic.done;
    expect(traffic.rejected).toBeGreaterThan(0);
    // retrying was reported between the loss and the return
    expect(alice.statuses.items.some((s) => s.type === 'retrying')).toBe(true);

    await alice.conn.send(vip('bob', 'RPC', [Buffer.from('after')], 'after-1'));
    await bob.inbox.next((m) => m.id.toString() === 'after-1', 10_000, 'message after restart');
    await alice.conn.send(vip('', 'ping', [Buffer.from('ping')], 'ping-after'));
    const pong = await alice.inbox.next((m) => m.id.toString() === 'ping-after', 10_000, 'pong after restart');
    expect(pong.args[0]?.toString()).toBe('pong');
    await alice.conn.send(vip('ghost', 'RPC', [Buffer.from('{}')], 'ghost-1'));
    const err = await alice.inbox.next((m) => m.id.toString() === 'ghost-1' && m.subsystem.toString() === 'error', 10_000, 'error 113');
    expect(err.args[0]?.toString()).toBe('113');
  });
});
