import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { PeerEvent, RoutedMessage, VipMessage } from '@vip/protocol';
import amqp from 'amqplib';
import {
  parseRmqLinkOptions,
  RmqConnection,
  RmqRouterTransport,
  RmqSetupError,
  UNDELIVERABLE_EXCHANGE,
  VOLTTRON_EXCHANGE,
  type RmqLinkOptionsInput,
  type TlsOptions,
} from '../src/index.js';
import { RmqPubSub, type PubSubDelivery } from '../src/pubsub.js';
import { ensureVolttronBroker } from '../src/admin.js';
import { connectTarget } from '../src/transport/rmq-options.js';
import { FAST_RECONNECT, Inbox } from './broker-fixture.js';
import { startTlsNode, TLS_CLIENTS, type TlsNode } from '@vip/testing';

/**
 * VOLTTRON's default RMQ mode against a real TLS RabbitMQ: amqps, client certificates, SASL
 * EXTERNAL with the certificate CN as the broker user. The node is a private one (@vip/testing startTlsNode),
 * started once for this file; the main broker is not involved.
 */
const VHOST = 'volttron-tls';
let node: TlsNode;

beforeAll(async () => {
  node = await startTlsNode(VHOST);
}, 120_000);
afterAll(async () => {
  await node?.stop();
}, 60_000);

const b = (s: string) => Buffer.from(s, 'latin1');
type Client = keyof TlsNode['pem']['client'];

function tlsLink(client: Client | { cert: string; key: string }, ca = node.pem.ca, brokerUser?: string): RmqLinkOptionsInput {
  const pair = typeof client === 'string' ? node.pem.client[client] : client;
  const tls: Partial<TlsOptions> = { ca, cert: pair.cert, key: pair.key, external: true };
  return {
    url: node.amqpsUrl,
    vhost: VHOST,
    instanceName: 'inst',
    reconnect: FAST_RECONNECT,
    tls,
    ...(brokerUser === undefined ? {} : { brokerUser }),
  };
}

async function tlsAgent(identity: string, brokerUser?: string): Promise<{ conn: RmqConnection; inbox: Inbox<VipMessage> }> {
  const conn = new RmqConnection({ ...tlsLink('agent', node.pem.ca, brokerUser), identity });
  onTestFinished(() => conn.close());
  const inbox = new Inbox<VipMessage>();
  conn.onMessage(inbox.push);
  await conn.open();
  return { conn, inbox };
}

/** A router with a minimal core: hello -> welcome, anything else -> pong. */
async function tlsRouter(brokerUser?: string) {
  const router = new RmqRouterTransport({ ...tlsLink('router', node.pem.ca, brokerUser), peerSweepMs: 0 });
  onTestFinished(() => router.close());
  const inbound = new Inbox<{ m: RoutedMessage; userId: string }>();
  const events = new Inbox<PeerEvent>();
  await router.start({
    peerEvent: events.push,
    message: (m, userId) => {
      inbound.push({ m, userId });
      if (m.recipient.length !== 0) return; // this core only answers what is addressed to it
      const reply = m.subsystem.toString() === 'hello' ? [b('welcome'), b('1.0'), b('router'), m.sender] : [b('pong'), ...m.args.slice(1)];
      void router.deliver(m.sender, b(''), m.sender, m.id, m.subsystem, reply);
    },
  });
  return { router, inbound, events };
}

async function refusal(link: RmqLinkOptionsInput): Promise<RmqSetupError> {
  const conn = new RmqConnection({ ...link, identity: 'refused' });
  onTestFinished(() => conn.close());
  const err = await conn.open().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RmqSetupError);
  return err as RmqSetupError;
}

describe('amqps + client certificates + SASL EXTERNAL on a real RabbitMQ', () => {
  it('ensureVolttronBroker over amqps/EXTERNAL declares the VOLTTRON exchanges in the vhost', async () => {
    await ensureVolttronBroker({ ...tlsLink('agent'), instanceName: 'inst' });
    const { url, socketOptions } = connectTarget(parseRmqLinkOptions(tlsLink('agent')), 'tls-check');
    const model = await amqp.connect(url, socketOptions);
    onTestFinished(() => model.close());
    const ch = await model.createChannel();
    await ch.checkExchange(VOLTTRON_EXCHANGE); // passive: a missing exchange closes the channel with 404
    await ch.checkExchange(UNDELIVERABLE_EXCHANGE);
  });

  it('a router and an agent, each authenticated by its certificate, exchange hello and ping', async () => {
    // the router stamps its CN as the platform does: an agent logged in as a user of the instance requires that proof
    const { inbound, events } = await tlsRouter(TLS_CLIENTS.router);
    const { conn, inbox } = await tlsAgent('tls-agent');
    await conn.send({ peer: b(''), user: b(''), id: b('h1'), subsystem: b('hello'), args: [b('hello')] });
    const welcome = await inbox.next((m) => m.id.toString() === 'h1', 10_000, 'welcome');
    expect(welcome.args.map((a) => a.toString())).toEqual(['welcome', '1.0', 'router', 'tls-agent']);
    await conn.send({ peer: b(''), user: b(''), id: b('p1'), subsystem: b('ping'), args: [b('ping'), b('x')] });
    const pong = await inbox.next((m) => m.id.toString() === 'p1', 10_000, 'pong');
    expect(pong.args.map((a) => a.toString())).toEqual(['pong', 'x']);
    // this agent sets no brokerUser, so its messages carry no user_id: to a router requiring proofs it is anonymous
    // (its header said inst.tls-agent); the next describe stamps it
    expect((await inbound.next(undefined, 1_000, 'hello at the router')).userId).toBe('');
    await events.next((e) => e.type === 'peer-connected' && e.peer.toString() === 'tls-agent', 5_000, 'peer-connected');
    const users = await node.ctl('list_connections', '-q', 'user', 'auth_mechanism', 'ssl', 'peer_cert_subject');
    expect(users).toMatch(/inst\.tls-agent\s+EXTERNAL\s+true\s+CN=inst\.tls-agent/);
    expect(users).toMatch(/inst\.router\s+EXTERNAL\s+true\s+CN=inst\.router/);
  });

  it('RmqPubSub over amqps/EXTERNAL: subscribe, publish, delivery', async () => {
    const sub = new RmqPubSub({ ...tlsLink('agent'), identity: 'tls-sub' });
    const pub = new RmqPubSub({ ...tlsLink('router'), identity: 'tls-pub' });
    onTestFinished(() => sub.close());
    onTestFinished(() => pub.close());
    await Promise.all([sub.open(), pub.open()]);
    const got = new Inbox<PubSubDelivery>();
    await sub.subscribe('devices/tls', got.push);
    expect(await pub.publish({ topic: 'devices/tls/ahu1', headers: { unit: 'C' }, message: { temp: 21 } })).toBe(1);
    const d = await got.next(undefined, 10_000, 'publish on devices/tls/ahu1');
    expect(d).toMatchObject({ sender: 'tls-pub', topic: 'devices/tls/ahu1', message: { temp: 21 }, headers: { unit: 'C' } });
  });

  it('a client certificate from another CA is refused by the broker', async () => {
    const err = await refusal(tlsLink(node.pem.foreignClient));
    expect(err.missing).toBe('credentials');
    expect(err.message).toMatch(/refused the client certificate/);
    expect(err.message).toMatch(/tls\.cert/);
  });

  it('a server certificate the client CA did not sign is refused by the client, naming tls.ca', async () => {
    const err = await refusal(tlsLink('agent', node.pem.otherCa));
    expect(err.missing).toBe('credentials');
    expect(err.message).toMatch(/TLS handshake/);
    expect(err.message).toMatch(/tls\.ca/);
  });

  it('EXTERNAL with a certificate whose CN has no broker user names that user and how to add it', async () => {
    const err = await refusal(tlsLink('nobody'));
    expect(err.missing).toBe('credentials');
    expect(err.message).toContain(`"${TLS_CLIENTS.nobody}"`);
    expect(err.message).toMatch(/rabbitmqctl add_user/);
  });

  it('EXTERNAL without TLS (the plain port) is not offered: RmqSetupError plugin', async () => {
    const err = await refusal({ ...tlsLink('agent'), url: `amqp://127.0.0.1:${node.amqpPort}` });
    expect(err.missing).toBe('plugin');
    expect(err.message).toMatch(/does not offer SASL EXTERNAL/);
  });
});

describe('EXTERNAL with an explicit brokerUser: messages carry the proven user_id', () => {
  it("agent and router stamp their CN: the router hands on the proven user, the agent sees the router's user_id over the header", async () => {
    const { router, inbound } = await tlsRouter(TLS_CLIENTS.router);
    // a copy of what reaches the router queue, to read the AMQP properties
    const { url, socketOptions } = connectTarget(parseRmqLinkOptions(tlsLink('router')), 'tls-tap');
    const tap = await amqp.connect(url, socketOptions);
    onTestFinished(() => tap.close());
    const tch = await tap.createChannel();
    const { queue } = await tch.assertQueue('', { exclusive: true, autoDelete: true });
    await tch.bindQueue(queue, VOLTTRON_EXCHANGE, 'inst.router');
    const copies = new Inbox<amqp.ConsumeMessage>();
    await tch.consume(queue, (m) => m && copies.push(m), { noAck: true });

    const { conn, inbox } = await tlsAgent('tls-agent', TLS_CLIENTS.agent);
    await conn.send({ peer: b(''), user: b('inst.someone-else'), id: b('u1'), subsystem: b('hello'), args: [b('hello')] });
    const welcome = await inbox.next((m) => m.id.toString() === 'u1', 10_000, 'welcome');
    // the test core answers with user = the sender; the router's user_id inst.router is proven and wins
    expect(welcome.user.toString()).toBe(TLS_CLIENTS.router);
    const hello = await inbound.next((x) => x.m.id.toString() === 'u1', 5_000, 'hello at the router');
    expect(hello.userId).toBe(TLS_CLIENTS.agent); // the header claimed inst.someone-else
    expect((await copies.next((m) => m.properties.messageId === 'u1', 5_000, 'tap copy')).properties.userId).toBe(TLS_CLIENTS.agent);
    expect(conn.stats()).toMatchObject({ spoofed: 0, invalid: 0 });
    expect(router.stats()).toMatchObject({ spoofed: 0, invalid: 0 });
  });

  it('RmqPubSub stamps it too; the subscriber checks the body sender against it', async () => {
    const sub = new RmqPubSub({ ...tlsLink('router'), identity: 'tls-sub2' });
    const pub = new RmqPubSub({ ...tlsLink('agent', node.pem.ca, TLS_CLIENTS.agent), identity: 'tls-agent' });
    onTestFinished(() => sub.close());
    onTestFinished(() => pub.close());
    await Promise.all([sub.open(), pub.open()]);
    const got = new Inbox<PubSubDelivery>();
    await sub.subscribe('devices/proven', got.push);
    expect(await pub.publish({ topic: 'devices/proven/1', message: 1 })).toBe(1);
    expect(await got.next(undefined, 10_000, 'proven publish')).toMatchObject({ sender: 'tls-agent', message: 1 });
    expect(sub.stats()).toMatchObject({ spoofed: 0, delivered: 1 });
  });

  it('a brokerUser the broker did not authenticate fails open() and start() with RmqSetupError credentials naming the option and the real user', async () => {
    const conn = new RmqConnection({ ...tlsLink('agent', node.pem.ca, 'inst.wrong'), identity: 'wrong' });
    onTestFinished(() => conn.close());
    const err = await conn.open().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RmqSetupError);
    expect(err).toMatchObject({ missing: 'credentials' });
    expect((err as Error).message).toContain(
      `RabbitMQ refused user_id "inst.wrong" (from \`brokerUser\`): the connection is authenticated as "${TLS_CLIENTS.agent}"`,
    );
    expect((err as Error).message).toContain(`set brokerUser: "${TLS_CLIENTS.agent}"`);
    const router = new RmqRouterTransport({ ...tlsLink('agent', node.pem.ca, 'inst.router'), peerSweepMs: 0 });
    onTestFinished(() => router.close());
    const rerr = await router.start({ message: () => undefined }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(rerr).toBeInstanceOf(RmqSetupError);
    expect((rerr as Error).message).toMatch(/refused user_id "inst\.router" .*authenticated as "inst\.tls-agent"/);
    const ps = new RmqPubSub({ ...tlsLink('router', node.pem.ca, 'inst.wrong'), identity: 'wrong' });
    onTestFinished(() => ps.close());
    expect(
      await ps.open().then(
        () => undefined,
        (e: unknown) => e,
      ),
    ).toBeInstanceOf(RmqSetupError);
  });
});
