import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isVipError } from '@vip/protocol';
import { freshVhost, rabbitmqctl, type TestVhost } from './broker-fixture.js';
import { reconnected, startScenarioAgent, startScenarioRouter, trafficLoop, vip } from './scenario.js';

let vh: TestVhost;
beforeAll(async () => {
  vh = await freshVhost('reconnect');
});
afterAll(async () => {
  await vh?.dispose();
});

describe('RMQ reconnection after forced close (close_all_connections in our vhost only)', () => {
  it('reconnects router and agents during traffic, rejects sends meanwhile, and messages flow again', async () => {
    const router = await startScenarioRouter(vh.vhost);
    const alice = await startScenarioAgent(vh.vhost, 'alice');
    const bob = await startScenarioAgent(vh.vhost, 'bob');

    // a send attempted the moment alice learns she is down must reject with TransportError
    const rejectedWhileDown = new Promise<unknown>((resolve) => {
      const off = alice.conn.onStatus((s) => {
        if (s.type !== 'disconnected') return;
        off();
        alice.conn.send(vip('bob', 'RPC', [Buffer.from('x')])).then(() => resolve('sent'), resolve);
      });
    });

    const traffic = trafficLoop(alice.conn, 'bob', 60_000);
    await bob.inbox.count(() => true, 20, 10_000, 'traffic before the fault');
    await rabbitmqctl('close_all_connections', '-p', vh.vhost, 'vip fault test');

    await Promise.all([reconnected(router.statuses, 'router'), reconnected(alice.statuses, 'alice'), reconnected(bob.statuses, 'bob')]);
    expect(isVipError(await rejectedWhileDown, 'VIP_TRANSPORT')).toBe(true);
    traffic.stop();
    await traffic.done;
    expect(traffic.rejected).toBeGreaterThan(0);
    expect(alice.conn.stats().rejectedWhileDisconnected).toBe(traffic.rejected + 1);

    // after the fault: peer to peer and router round trips work again
    await alice.conn.send(vip('bob', 'RPC', [Buffer.from('after')], 'after-1'));
    await bob.inbox.next((m) => m.id.toString() === 'after-1', 10_000, 'message after reconnect');
    await bob.conn.send(vip('', 'ping', [Buffer.from('ping')], 'ping-after'));
    const pong = await bob.inbox.next((m) => m.id.toString() === 'ping-after', 10_000, 'pong after reconnect');
    expect(pong.args[0]?.toString()).toBe('pong');

    // what bob received is in order and without duplicates
    const ids = bob.inbox.items.filter((m) => m.id.toString().startsWith('t-')).map((m) => Number(m.id.toString().slice(2)));
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(new Set(ids).size).toBe(ids.length);
    expect(alice.conn.stats().reconnects).toBe(1);
    expect(router.conn.stats().reconnects).toBe(1);
  });
});

describe('RMQ agent whose queue is deleted under it', () => {
  it('notices the cancelled consumer, reconnects and declares its queue again', async () => {
    await startScenarioRouter(vh.vhost, { instanceName: 'q' });
    const carol = await startScenarioAgent(vh.vhost, 'carol', 'q');
    await rabbitmqctl('delete_queue', '-p', vh.vhost, 'q.carol');
    await reconnected(carol.statuses, 'carol');
    await carol.conn.send(vip('', 'ping', [Buffer.from('ping')], 'after-delete'));
    const pong = await carol.inbox.next((m) => m.id.toString() === 'after-delete', 10_000, 'pong after queue deletion');
    expect(pong.args[0]?.toString()).toBe('pong');
  });
});
