import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { RmqPubSub, type PubSubDelivery } from '../src/pubsub.js';
import { AMQP_URL, FAST_RECONNECT, freshVhost, Inbox, management, type TestVhost } from './broker-fixture.js';

/** Two instances in two virtual hosts of one broker, linked by RabbitMQ federation (docs/protocol.md 7.8). */
let up: TestVhost;
let down: TestVhost;
beforeAll(async () => {
  [up, down] = await Promise.all([freshVhost('fed-up'), freshVhost('fed-down')]);
  await management.federateVolttron(down.vhost, 'upstream-a', `${AMQP_URL}/${encodeURIComponent(up.vhost)}`);
});
afterAll(async () => {
  await Promise.all([up?.dispose(), down?.dispose()]);
});

function pubsub(vhost: string, instanceName: string, identity: string): RmqPubSub {
  const p = new RmqPubSub({ url: AMQP_URL, vhost, instanceName, identity, reconnect: FAST_RECONNECT });
  onTestFinished(() => p.close());
  return p;
}

describe('RMQ pubsub across instances through federation', () => {
  it('delivers a publish of instance a to an all-platforms subscriber of instance b, not to a local-only one', async () => {
    const pub = pubsub(up.vhost, 'a', 'publisher');
    const all = pubsub(down.vhost, 'b', 'listener');
    await Promise.all([pub.open(), all.open()]);
    const got = new Inbox<PubSubDelivery>();
    const local: PubSubDelivery[] = [];
    await all.subscribe('devices', got.push, { allPlatforms: true });
    await all.subscribe('devices', (d) => local.push(d));
    // the federation link comes up asynchronously: publish until the first message crosses
    for (let i = 0; got.items.length === 0; i++) {
      if (i > 100) throw new Error('federation never delivered (is rabbitmq_federation enabled?)');
      await pub.publish({ topic: 'devices/ahu1', message: i });
      await got.next(undefined, 200, 'federated publish').catch(() => undefined);
    }
    const first = got.items[0] as PubSubDelivery;
    expect(first).toMatchObject({ instance: 'a', topic: 'devices/ahu1', sender: 'publisher' });
    expect(local).toEqual([]);
  });
});
