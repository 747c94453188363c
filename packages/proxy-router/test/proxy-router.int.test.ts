import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, type RpcCallContext } from '@vip/agent';
import { createRmqAgent } from '@vip/agent/rmq';
import { textFrame, type VipMessage } from '@vip/protocol';
import { RmqConnection, RmqRouterTransport, rmqRouterOptions, viaProxyPublish } from '@vip/rmq';
import { Router } from '@vip/router';
import { ensureVolttronBroker, RabbitMqManagement } from '@vip/rmq/admin';
import {
  AMQP_URL,
  FAST_RECONNECT,
  Inbox,
  MANAGEMENT,
  MemoryTransport,
  vhostFixture,
  waitFor,
  type MemoryConnection,
  type TestVhost,
} from '@vip/testing';
import { ZmqProxyRouter } from '../src/index.js';

const management = new RabbitMqManagement(MANAGEMENT);
const freshVhost = vhostFixture({
  prepare: (vhost) => ensureVolttronBroker({ url: AMQP_URL, vhost, management: MANAGEMENT }),
  remove: (vhost) => management.deleteVhost(vhost),
});

/**
 * The proxy between an in-process RabbitMQ router (the real shared broker, a vhost of its own) and
 * ZeroMQ peers on a MemoryTransport (the ZeroMQ side's contract; CURVE is the platform test's).
 * Shared login (guest): what this file checks is routing and byte fidelity; proofs are checked on
 * per-agent users in tests/integration/proxy-router.test.ts.
 */
const INSTANCE = 'inst';
const b = (s: string) => Buffer.from(s, 'utf8');
let vh: TestVhost;
let router: Router;
let zmqSide: MemoryTransport;
let proxy: ZmqProxyRouter;
let rmqAgent: Agent;
let zmqAgent: Agent;
const link = () => ({ url: AMQP_URL, vhost: vh.vhost, instanceName: INSTANCE, reconnect: FAST_RECONNECT });

beforeAll(async () => {
  vh = await freshVhost('proxy');
  router = new Router({
    transport: new RmqRouterTransport({ ...link(), peerSweepMs: 0 }),
    instanceName: INSTANCE,
    ...rmqRouterOptions(INSTANCE),
  });
  await router.start();
  zmqSide = new MemoryTransport();
  proxy = new ZmqProxyRouter({ transport: zmqSide, rmq: link(), management: MANAGEMENT });
  await proxy.start();
  rmqAgent = createRmqAgent({ identity: 'rmq.a', rmq: link(), management: MANAGEMENT, prefixMatch: 'character' });
  rmqAgent.rpc.export('whoami', function (this: RpcCallContext, x: unknown) {
    return { caller: this.caller, user: this.user, x };
  });
  await rmqAgent.start();
  zmqAgent = new Agent({ identity: 'zmq.a', connection: () => zmqSide.connection('zmq.a', { userId: 'zmq.a.user' }) });
  zmqAgent.rpc.export('whoami', function (this: RpcCallContext, x: unknown) {
    return { caller: this.caller, user: this.user, x };
  });
  await zmqAgent.start();
}, 60_000);

afterAll(async () => {
  await zmqAgent?.close();
  await rmqAgent?.close();
  await proxy?.close();
  await router?.stop();
  await vh?.dispose();
});

describe('ZmqProxyRouter: a ZeroMQ peer on a RabbitMQ platform', () => {
  it("is on the router's peer list with bus zmq; the ZeroMQ peer lists the RabbitMQ peers", async () => {
    expect(await rmqAgent.peerlist.listWithMessagebus()).toMatchObject({ 'zmq.a': 'zmq', 'rmq.a': 'rmq' });
    expect(await zmqAgent.peerlist.list()).toEqual(expect.arrayContaining(['zmq.a', 'rmq.a']));
    expect(proxy.peers()).toEqual(['zmq.a']);
  });

  it("the ZeroMQ peer hears the router's peerlist add/drop of RMQ agents (its pending calls to a leaver fail at once)", async () => {
    const events = new Inbox<string>();
    const offAdd = zmqAgent.peerlist.onAdd((peer, bus) => events.push(`add ${peer} ${bus}`));
    const offDrop = zmqAgent.peerlist.onDrop((peer) => events.push(`drop ${peer}`));
    const visitor = createRmqAgent({ identity: 'rmq.visitor', rmq: link(), management: false });
    await visitor.start();
    await events.next((e) => e === 'add rmq.visitor rmq', 10_000, 'add at zmq.a');
    await visitor.close();
    await events.next((e) => e === 'drop rmq.visitor', 10_000, 'drop at zmq.a');
    offAdd();
    offDrop();
  });

  it('RPC both ways: the ZeroMQ caller is its proven user; the RMQ caller goes through the proxy inbox (send_via_proxy)', async () => {
    expect(await zmqAgent.rpc.call('rmq.a', 'whoami', 'é\u0000{"x":1}')).toEqual({
      caller: 'zmq.a',
      user: 'zmq.a.user',
      x: 'é\u0000{"x":1}',
    });
    const before = proxy.stats().viaInbox;
    expect(await rmqAgent.rpc.call('zmq.a', 'whoami', [1, 'two'])).toMatchObject({ caller: 'rmq.a', x: [1, 'two'] });
    expect(proxy.stats().viaInbox).toBeGreaterThan(before);
  });

  it('pubsub both ways (ZeroMQ character prefixes on the broker)', async () => {
    const atZmq = new Inbox<[string, string, unknown]>();
    const atRmq = new Inbox<[string, string, unknown]>();
    await zmqAgent.pubsub!.subscribe('from-rmq/dev', (_p, sender, _b, topic, _h, message) => atZmq.push([sender, topic, message]));
    await rmqAgent.pubsub!.subscribe('from-zmq/', (_p, sender, _b, topic, _h, message) => atRmq.push([sender, topic, message]));
    expect(await rmqAgent.pubsub!.publish('from-rmq/devices/x', { message: { v: 1 } })).toBe(1);
    expect(await atZmq.next(() => true, 5_000, 'delivery at zmq.a')).toEqual(['rmq.a', 'from-rmq/devices/x', { v: 1 }]);
    expect(await zmqAgent.pubsub!.publish('from-zmq/a', { message: 'hi' })).toBe(1);
    expect(await atRmq.next(() => true, 5_000, 'delivery at rmq.a')).toEqual(['zmq.a', 'from-zmq/a', 'hi']);
  });

  it('carries every frame byte-exact both ways: binary, non-UTF-8, JSON-looking, empty; ids too', async () => {
    const { raw, atZmq } = await rawZmqPeer('zmq.raw', 'zmq.raw');
    await atZmq.next((m) => m.subsystem.toString() === 'hello', 5_000, 'welcome');
    const rmqRaw = new RmqConnection({ ...link(), identity: 'rmq.raw' });
    const atRmq = new Inbox<VipMessage>();
    rmqRaw.onMessage(atRmq.push);
    await rmqRaw.open();
    const frames = [
      Buffer.from([0xff, 0xfe, 0x00, 0x80]),
      b('["Invalid json format"'),
      b('{"jsonrpc": "2.0", "id": 7}'),
      b(''),
      b('\u00e9t\u00e9'),
      Buffer.from([0xc3, 0x28]),
    ];
    const id = Buffer.from([0x84, 0x2d, 0xd6, 0x4e]);
    sendFromZmq(raw, 'rmq.raw', id, 'blob', frames);
    const got = await atRmq.next((m) => m.subsystem.toString() === 'blob', 5_000, 'blob at rmq.raw');
    expect(got.peer).toEqual(b('zmq.raw'));
    expect(got.id).toEqual(id);
    expect(got.args).toEqual(frames);
    // back: straight to the peer's routing key, and through the proxy inbox
    await rmqRaw.send({ peer: b('zmq.raw'), user: b(''), id, subsystem: b('blob'), args: frames });
    const direct = await atZmq.next((m) => m.subsystem.toString() === 'blob', 5_000, 'blob at zmq.raw');
    expect([direct.peer, direct.id, direct.args]).toEqual([b('rmq.raw'), id, frames]);
    const inbox = viaProxyPublish(
      { peer: b('zmq.raw'), user: b(''), id, subsystem: b('blob2'), args: frames },
      { instance: INSTANCE, identity: 'rmq.raw' },
    );
    await publishRaw(inbox.routingKey, inbox.content, inbox.properties);
    const proxied = await atZmq.next((m) => m.subsystem.toString() === 'blob2', 5_000, 'blob2 at zmq.raw');
    expect([proxied.peer, proxied.id, proxied.args]).toEqual([b('rmq.raw'), id, frames]);
    await rmqRaw.close();
    await raw.close();
  });

  it('drops an inbox frame list whose sender frame is not its publisher (an RMQ agent writing as another)', async () => {
    const { raw, atZmq } = await rawZmqPeer('zmq.victim', 'zmq.victim');
    await atZmq.next((m) => m.subsystem.toString() === 'hello', 5_000, 'welcome');
    const before = proxy.stats().spoofed;
    // published as rmq.evil (app_id), the frame list claims rmq.a
    const forged = viaProxyPublish(
      { peer: b('zmq.victim'), user: b(''), id: b('f1'), subsystem: b('RPC'), args: [b('{}')] },
      { instance: INSTANCE, identity: 'rmq.evil' },
    );
    const frames = JSON.parse(forged.content.toString()) as string[];
    frames[1] = 'rmq.a';
    await publishRaw(forged.routingKey, Buffer.from(JSON.stringify(frames)), forged.properties);
    await waitFor(() => proxy.stats().spoofed > before, { what: 'spoofed inbox frame list counted' });
    raw.sendFrames([b(''), b('VIP1'), b(''), b('p1'), b('ping'), b('ping')]);
    await atZmq.next((m) => m.subsystem.toString() === 'ping', 5_000, 'pong');
    expect(atZmq.items.map((m) => m.subsystem.toString())).toEqual(['hello', 'ping']); // nothing of the forged one reached the peer
    await raw.close();
  });

  it('refuses a ZeroMQ peer claiming an identity held on RabbitMQ (its queue is locked): error 13, the RMQ agent unharmed', async () => {
    const { raw, atZmq } = await rawZmqPeer('rmq.a', 'zmq.impostor');
    const refused = await atZmq.next(() => true, 10_000, 'refusal');
    expect(refused.subsystem.toString()).toBe('error');
    expect(refused.args[0]?.toString()).toBe('13');
    expect(proxy.peers()).not.toContain('rmq.a');
    expect(await rmqAgent.peerlist.listWithMessagebus()).toMatchObject({ 'rmq.a': 'rmq' });
    expect(await zmqAgent.rpc.call('rmq.a', 'whoami', 1)).toMatchObject({ caller: 'zmq.a' });
    await raw.close();
  });

  it("refuses the platform's identities by default, and a refused identity again for a while without a new attempt", async () => {
    const before = proxy.stats().refused;
    const { raw, atZmq } = await rawZmqPeer('control', 'zmq.control');
    const first = await atZmq.next((m) => m.subsystem.toString() === 'error', 10_000, 'refusal');
    expect(first.args[0]?.toString()).toBe('13');
    expect(first.args[1]?.toString()).toMatch(/may not hold this identity/);
    raw.sendFrames([b(''), b('VIP1'), b(''), b('h2'), b('hello'), b('hello')]);
    await atZmq.next((m) => m.id.toString() === 'h2', 5_000, 'second refusal');
    expect(proxy.stats().refused).toBe(before + 2);
    expect(await rmqAgent.peerlist.listWithMessagebus()).not.toHaveProperty('control');
    await raw.close();
  });

  it("a ZeroMQ peer leaving is dropped from the router's list", async () => {
    const leaver = new Agent({ identity: 'zmq.leaver', connection: () => zmqSide.connection('zmq.leaver', { userId: 'zmq.leaver' }) });
    await leaver.start();
    expect(await rmqAgent.peerlist.listWithMessagebus()).toMatchObject({ 'zmq.leaver': 'zmq' });
    await leaver.close();
    await waitFor(async () => !(await rmqAgent.peerlist.list()).includes('zmq.leaver'), { what: 'zmq.leaver dropped' });
    expect(proxy.peers()).not.toContain('zmq.leaver');
  });

  it('a ZeroMQ peer back at once under the same identity is hosted again, after its drop reached the router', async () => {
    const first = new Agent({ identity: 'zmq.back', connection: () => zmqSide.connection('zmq.back', { userId: 'zmq.back' }) });
    await first.start();
    await first.close();
    const again = new Agent({ identity: 'zmq.back', connection: () => zmqSide.connection('zmq.back', { userId: 'zmq.back' }) });
    again.rpc.export('ping2', () => 'pong2');
    await again.start();
    expect(await rmqAgent.rpc.call('zmq.back', 'ping2')).toBe('pong2');
    expect(await rmqAgent.peerlist.listWithMessagebus()).toMatchObject({ 'zmq.back': 'zmq' });
    await again.close();
  });

  it('bounds what a ZeroMQ peer has waiting for RabbitMQ in bytes: beyond, error 11 and a count', async () => {
    const { raw, atZmq } = await rawZmqPeer('zmq.flood', 'zmq.flood');
    await atZmq.next((m) => m.subsystem.toString() === 'hello', 5_000, 'welcome');
    const before = proxy.stats().dropped;
    sendFromZmq(raw, 'rmq.a', b('big'), 'blob', [Buffer.alloc(17 * 1024 * 1024)]);
    const err = await atZmq.next((m) => m.subsystem.toString() === 'error', 5_000, 'error 11');
    expect(err.args[0]?.toString()).toBe('11');
    expect(proxy.stats().dropped).toBe(before + 1);
    await raw.close();
  });
});

/** A raw ZeroMQ-side peer that has sent its hello (frames as a DEALER writes them). */
async function rawZmqPeer(identity: string, userId: string): Promise<{ raw: MemoryConnection; atZmq: Inbox<VipMessage> }> {
  const raw = zmqSide.connection(identity, { userId });
  const atZmq = new Inbox<VipMessage>();
  raw.onMessage(atZmq.push);
  await raw.open();
  raw.sendFrames([b(''), b('VIP1'), b(''), b('h1'), b('hello'), b('hello')]);
  return { raw, atZmq };
}

function sendFromZmq(conn: MemoryConnection, to: string, id: Buffer, subsystem: string, args: readonly Buffer[]): void {
  conn.sendFrames([b(to), textFrame('VIP1'), b(''), id, b(subsystem), ...args]);
}

/** One publish on a plain amqplib channel (guest), as a Python agent's pika would make it. */
async function publishRaw(routingKey: string, content: Buffer, properties: object): Promise<void> {
  const amqp = await import('amqplib');
  const conn = await amqp.connect(`${AMQP_URL}/${encodeURIComponent(vh.vhost)}`);
  const ch = await conn.createConfirmChannel();
  ch.publish('volttron', routingKey, content, properties);
  await ch.waitForConfirms();
  await conn.close();
}
