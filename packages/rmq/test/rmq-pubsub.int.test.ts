import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import amqp from 'amqplib';
import { isVipError } from '@vip/protocol';
import { RmqPubSub, type PubSubDelivery, type RmqPubSubOptions } from '../src/pubsub.js';
import { AMQP_URL, FAST_RECONNECT, freshVhost, Inbox, MANAGEMENT, rabbitmqctl, type TestVhost } from './broker-fixture.js';

let vh: TestVhost;
beforeAll(async () => {
  vh = await freshVhost('rmqpubsub');
});
afterAll(async () => {
  await vh?.dispose();
});

async function pubsub(identity: string, extra: Partial<RmqPubSubOptions> = {}): Promise<RmqPubSub> {
  const p = new RmqPubSub({ url: AMQP_URL, vhost: vh.vhost, instanceName: vh.instanceName, reconnect: FAST_RECONNECT, identity, ...extra });
  onTestFinished(() => p.close());
  await p.open();
  return p;
}

describe('RmqPubSub (VOLTTRON RabbitMQ pubsub) on a real broker', () => {
  it('delivers by topic segment with sender, bus, headers and message', async () => {
    const pub = await pubsub('pub1');
    const sub = await pubsub('sub1');
    const got = new Inbox<PubSubDelivery>();
    await sub.subscribe('devices/campus', got.push);
    await pub.publish({ topic: 'devices/campusX/ahu', message: 'wrong segment' });
    await pub.publish({ topic: 'devices/campus/ahu1', headers: { unit: 'C' }, message: { temp: 21 } });
    const d = await got.next(undefined, 5_000, 'publish on devices/campus/ahu1');
    expect(d).toMatchObject({ sender: 'pub1', bus: '', topic: 'devices/campus/ahu1', message: { temp: 21 }, headers: { unit: 'C' } });
    await pub.publish({ topic: 'devices/campus', message: 'exact' });
    await got.next((x) => x.message === 'exact', 5_000, 'exact topic');
    expect(got.items.map((x) => x.message)).not.toContain('wrong segment');
  });

  it('keeps buses apart and stops after unsubscribe', async () => {
    const pub = await pubsub('pub2');
    const sub = await pubsub('sub2');
    const got = new Inbox<PubSubDelivery>();
    await sub.subscribe('', got.push, { bus: 'b2' });
    await pub.publish({ topic: 'x/1', bus: '', message: 'default bus' });
    await pub.publish({ topic: 'x/1', bus: 'b2', message: 'one' });
    await got.next((x) => x.message === 'one', 5_000, 'first');
    await sub.unsubscribe(null, null, { bus: 'b2' });
    const marker = new Inbox<PubSubDelivery>();
    await sub.subscribe('marker', marker.push);
    await pub.publish({ topic: 'x/1', bus: 'b2', message: 'two' });
    await pub.publish({ topic: 'marker', message: 'm' });
    await marker.next(undefined, 5_000, 'marker');
    expect(got.items.map((x) => x.message)).toEqual(['one']);
    expect(sub.stats().otherBus).toBeGreaterThanOrEqual(1);
  });

  it('with the management API: publish counts the subscribers it reached, list shows bus and prefix, character prefixes on request', async () => {
    const pub = await pubsub('pub.count', { management: MANAGEMENT });
    const seg = await pubsub('seg.sub');
    const chr = await pubsub('chr.sub', { prefixMatch: 'character' });
    const segGot = new Inbox<PubSubDelivery>();
    const chrGot = new Inbox<PubSubDelivery>();
    expect(await pub.publish({ topic: 'devices/campus/ahu', message: 0 })).toBe(0);
    await seg.subscribe(['devices/camp', 'devices'], segGot.push);
    await chr.subscribe('devices/camp', chrGot.push, { bus: 'b' });
    expect(await pub.publish({ topic: 'devices/campus/ahu', message: 1 })).toBe(1); // seg by 'devices'; chr is on bus b
    expect(await pub.publish({ topic: 'devices/campus/ahu', bus: 'b', message: 2 })).toBe(1); // chr by character prefix
    expect(await pub.publish({ topic: 'devices/cold', bus: 'b', message: 3 })).toBe(0); // reaches the queue (devices.#), filtered locally
    expect(await pub.publish({ topic: 'devices/camp', bus: 'b', message: 5 })).toBe(1);
    await segGot.next((d) => d.message === 1, 5_000, 'segment delivery');
    await chrGot.next((d) => d.message === 5, 5_000, 'character deliveries');
    expect(chrGot.items.map((d) => d.message)).toEqual([2, 5]);
    expect(chr.stats().unmatched).toBe(1); // message 3, ahead of message 5 in the same queue
    expect(segGot.items.filter((d) => d.message === 1)).toHaveLength(1); // one of its two prefixes matches: one call
    expect(await pub.list({ prefix: 'devices', subscribed: false, bus: null })).toEqual(
      expect.arrayContaining([
        ['', 'devices/camp', false],
        ['', 'devices', false],
        ['b', 'devices/camp', false],
      ]),
    );
    await seg.unsubscribe(null, null);
    expect(await pub.publish({ topic: 'devices/campus/ahu', message: 4 })).toBe(0);
  });

  it("a count the management API will not give resolves 1 (VOLTTRON's constant) after delivery, warned once; refused logins are not asked again", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => void ((w as { code?: string }).code === 'VIP_RMQ_COUNT_UNKNOWN' && warnings.push(w));
    process.on('warning', onWarning);
    onTestFinished(() => void process.off('warning', onWarning));
    const logged: string[] = [];
    const logger = { debug: () => {}, info: () => {}, warn: (e: string) => void logged.push(e), error: () => {}, child: () => logger };
    // an agent's own broker user has no management login: the API answers 401
    const pub = await pubsub('pub.nologin', { management: { ...MANAGEMENT, password: 'not-the-password' }, logger });
    const sub = await pubsub('sub.nologin');
    const got = new Inbox<PubSubDelivery>();
    await sub.subscribe('nologin', got.push);
    expect(await pub.publish({ topic: 'nologin/a', message: 1 })).toBe(1);
    expect(await pub.publish({ topic: 'nologin/b', message: 2 })).toBe(1);
    await got.next((d) => d.message === 2, 5_000, 'both delivered');
    expect(got.items.map((d) => d.message)).toEqual([1, 2]);
    expect(pub.stats()).toMatchObject({ countsUnknown: 1, countRequests: 1 }); // refused once, not asked again
    await new Promise<void>((resolve) => setImmediate(resolve)); // process warnings are emitted on the next tick
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toMatch(/management API refused .*publish resolves 1 from now on/);
    expect(logged).toEqual(['pubsub.count.refused']);
    // a management API that does not answer: 1 each time, one log line per outage, asked again each time
    const down = await pubsub('pub.nomgmt', { management: { baseUrl: 'http://127.0.0.1:9', user: 'guest', password: 'guest' }, logger });
    expect(await down.publish({ topic: 'nologin/c', message: 3 })).toBe(1);
    expect(await down.publish({ topic: 'nologin/d', message: 4 })).toBe(1);
    await got.next((d) => d.message === 4, 5_000, 'delivered without a count');
    expect(down.stats()).toMatchObject({ countsUnknown: 2, countRequests: 2 });
    expect(logged).toEqual(['pubsub.count.refused', 'pubsub.count.unavailable']);
  });

  it('keeps messages for a persistent queue while its agent is away', async () => {
    const pub = await pubsub('pub3');
    const first = await pubsub('hist');
    await first.subscribe('log', () => undefined, { persistentQueue: 'archive' });
    await first.close();
    for (let i = 0; i < 5; i++) await pub.publish({ topic: `log/${i}`, message: i });
    const again = await pubsub('hist');
    const got = new Inbox<PubSubDelivery>();
    await again.subscribe('log', got.push, { persistentQueue: 'archive' });
    const backlog = await got.count(() => true, 5, 10_000, 'backlog');
    expect(backlog.map((x) => x.message)).toEqual([0, 1, 2, 3, 4]);
    await expect(again.subscribe('other', () => undefined, { persistentQueue: 'archive' })).rejects.toMatchObject({ code: 'VIP_CONFIG' });
  });

  it('a persistent subscriber passes a message on once when a federation link or shovel delivers it again', async () => {
    const pub = await pubsub('pub.fed');
    const sub = await pubsub('sub.fed');
    const got = new Inbox<PubSubDelivery>();
    await sub.subscribe('fed', got.push, { persistentQueue: 'fedcopy' });
    // a raw queue keeps the publish as the broker routed it, to be sent again as a link would
    const conn = await amqp.connect(`${AMQP_URL}/${encodeURIComponent(vh.vhost)}`);
    onTestFinished(() => conn.close().catch(() => undefined));
    const ch = await conn.createConfirmChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, 'volttron', '#');
    await pub.publish({ topic: 'fed/1', message: 'once' });
    await got.next((x) => x.message === 'once', 5_000, 'the publish');
    let kept: amqp.GetMessage | false = false;
    for (let i = 0; i < 50 && kept === false; i++) {
      kept = await ch.get(queue, { noAck: true });
      if (kept === false) await new Promise((r) => setTimeout(r, 100));
    }
    if (kept === false) throw new Error('the raw queue got no copy of the publish');
    const { fields, properties, content } = kept;
    const again = (headers: Record<string, unknown>): void => {
      ch.publish('volttron', fields.routingKey, content, { ...properties, headers: { ...properties.headers, ...headers } });
    };
    // what a federation link and a shovel add to what they republish after a cut link
    again({ 'x-received-from': [{ uri: 'amqp://upstream', exchange: 'volttron', redelivered: true }] });
    again({ 'x-shovelled': [{ 'shovel-name': 's1' }] });
    await ch.waitForConfirms();
    await pub.publish({ topic: 'fed/2', message: 'marker' });
    await got.next((x) => x.message === 'marker', 5_000, 'the marker');
    expect(got.items.map((x) => x.message)).toEqual(['once', 'marker']);
    expect(sub.stats().duplicates).toBe(2);
  });

  it("confirms publishes: 200 pipelined ones resolved are all in an away subscriber's durable queue; a nacked one rejects, counted", async () => {
    const away = await pubsub('conf');
    await away.subscribe('conf', () => undefined, { persistentQueue: 'held' });
    await away.close();
    const pub = await pubsub('pub9');
    await Promise.all(Array.from({ length: 200 }, (_, i) => pub.publish({ topic: 'conf/x', message: i })));
    const conn = await amqp.connect(`${AMQP_URL}/${encodeURIComponent(vh.vhost)}`);
    onTestFinished(() => conn.close());
    const ch = await conn.createChannel();
    const q = await ch.checkQueue(`${vh.instanceName}.conf.pubsub.persistent.held`);
    expect(q.messageCount).toBe(200);
    expect(pub.stats()).toMatchObject({ published: 200, unconfirmed: 0 });
    // a queue that refuses a second message makes the broker nack it: that publish rejects
    await ch.assertQueue('conf-full', { arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
    await ch.bindQueue('conf-full', 'volttron', `__pubsub__.${vh.instanceName}.full.#`);
    await pub.publish({ topic: 'full/x', message: 1 });
    const nacked = await pub.publish({ topic: 'full/x', message: 2 }).catch((err: unknown) => err);
    expect(isVipError(nacked, 'VIP_TRANSPORT')).toBe(true);
    expect(String((nacked as Error).message)).toContain('did not confirm');
    expect(pub.stats()).toMatchObject({ published: 201, unconfirmed: 1 });
  });

  it('a nack renews the confirm channel: publishes in flight settle by their own confirms, later ones go out on a fresh channel, the old one closes', async () => {
    // (why: a RabbitMQ 3.10 channel can stay nacked by a quorum queue whose leader died; tests/integration/rmq-cluster.test.ts)
    const conn = await amqp.connect(`${AMQP_URL}/${encodeURIComponent(vh.vhost)}`);
    onTestFinished(() => conn.close());
    const ch = await conn.createChannel();
    await ch.assertQueue('renew-full', { arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' } });
    await ch.bindQueue('renew-full', 'volttron', `__pubsub__.${vh.instanceName}.renewfull.#`);
    const pub = await pubsub('pub-renew');
    const channels = async (): Promise<number> =>
      (await rabbitmqctl('list_channels', '-q', 'vhost', 'user')).split('\n').filter((l) => l.startsWith(`${vh.vhost}\t`)).length;
    const before = await channels(); // the test's own and pub-renew's two (consumer, confirm)
    await new Promise((r) => setTimeout(r, 600)); // a confirm channel is renewed once it is 500 ms old
    const settled = await Promise.allSettled(
      Array.from({ length: 100 }, (_, i) => pub.publish({ topic: i % 2 === 0 ? 'renewok/x' : 'renewfull/x', message: i })),
    );
    const outcome = settled.map((r) =>
      r.status === 'fulfilled' ? 'ok' : /message nacked/.test(String((r.reason as Error).message)) ? 'nacked' : String(r.reason),
    );
    expect(outcome.filter((_, i) => i % 2 === 0)).toEqual(Array(50).fill('ok')); // none cut by the renewal
    expect(outcome.filter((_, i) => i % 2 === 1)).toEqual(Array(50).fill('nacked'));
    expect(pub.stats()).toMatchObject({ confirmRenewals: 1, unconfirmed: 50 });
    await expect(pub.publish({ topic: 'renewok/x', message: 'on the new channel' })).resolves.toBe(1);
    await expect.poll(channels, { timeout: 10_000 }).toBe(before); // the old confirm channel closed
    await new Promise((r) => setTimeout(r, 600));
    await expect(pub.publish({ topic: 'renewfull/x', message: 'nacked again' })).rejects.toThrow(/message nacked/);
    expect(pub.stats().confirmRenewals).toBe(2);
    await expect(pub.publish({ topic: 'renewok/x', message: 'on the third channel' })).resolves.toBe(1);
  });

  it('re-declares subscriptions after a forced close; publishes while down reject', async () => {
    const pub = await pubsub('pub4');
    const sub = await pubsub('sub4');
    const got = new Inbox<PubSubDelivery>();
    await sub.subscribe('after', got.push);
    const back = new Promise<void>((resolve) => {
      let down = false;
      pub.onStatus((s) => {
        if (s.type === 'disconnected') down = true;
        if (down && s.type === 'connected') resolve();
      });
    });
    const subBack = new Promise<void>((resolve) => sub.onStatus((s) => void (s.type === 'connected' && resolve())));
    const refused = new Promise<unknown>((resolve) => {
      const off = pub.onStatus((s) => {
        if (s.type !== 'disconnected') return;
        off();
        pub.publish({ topic: 'after/x' }).then(() => resolve('sent'), resolve);
      });
    });
    await rabbitmqctl('close_all_connections', '-p', vh.vhost, 'vip pubsub fault test');
    await Promise.all([back, subBack]);
    expect(isVipError(await refused, 'VIP_TRANSPORT')).toBe(true);
    await pub.publish({ topic: 'after/reconnect', message: 'ok' });
    expect((await got.next(undefined, 10_000, 'publish after reconnect')).message).toBe('ok');
  });

  it('whenConnected: true at once when up; while reconnecting, true once back (then publishes go out); false when closed', async () => {
    const pub = await pubsub('pub5');
    expect(await pub.whenConnected(1)).toBe(true);
    const down = new Promise<void>((resolve) => pub.onStatus((s) => void (s.type === 'disconnected' && resolve())));
    await rabbitmqctl('close_all_connections', '-p', vh.vhost, 'vip pubsub whenConnected test');
    await down;
    expect(await pub.whenConnected(20_000)).toBe(true);
    await expect(pub.publish({ topic: 'back/x' })).resolves.toBe(1);
    const closing = await pubsub('pub6');
    await closing.close();
    expect(await closing.whenConnected(20_000)).toBe(false);
  });
});
