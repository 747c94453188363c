import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '@vip/agent';
import { RmqConnection, RmqRouterTransport } from '@vip/rmq';
import { Router } from '@vip/router';
import { AMQP_URL, FAST_RECONNECT, Inbox, type TestVhost } from '@vip/testing';
import { freshVhost } from './helpers/broker.js';

/**
 * A peer that speaks AMQP exactly as VOLTTRON 9's Python RMQConnection does (docs/protocol.md 7.2-7.4),
 * written with raw amqplib, against our Router on RmqRouterTransport and a TypeScript agent.
 */
const INSTANCE = 'pyinst';
let vh: TestVhost;
let router: Router;
let srv: Agent;
let model: ChannelModel;
let ch: Channel;
const inbox = new Inbox<ConsumeMessage>();

beforeAll(async () => {
  vh = await freshVhost('python-peer');
  const link = { url: AMQP_URL, vhost: vh.vhost, instanceName: INSTANCE, reconnect: FAST_RECONNECT };
  router = new Router({ transport: new RmqRouterTransport({ ...link, peerSweepMs: 0 }), instanceName: INSTANCE });
  await router.start();
  srv = new Agent({ identity: 'ts.srv', connection: () => new RmqConnection({ ...link, identity: 'ts.srv' }) });
  await srv.start();
  srv.rpc.export('echo', (x: unknown) => x);
  model = await amqp.connect(`${AMQP_URL}/${encodeURIComponent(vh.vhost)}`, { noDelay: true });
  ch = await model.createChannel();
  const queue = `${INSTANCE}.pyagent`;
  await ch.assertQueue(queue, { durable: false, exclusive: true, autoDelete: true });
  await ch.bindQueue(queue, 'volttron', queue);
  await ch.consume(queue, (m) => m && inbox.push(m), { noAck: true });
});
afterAll(async () => {
  await model?.close();
  await srv?.close();
  await router?.stop();
  await vh?.dispose();
});

/** What pika publishes for `send_vip(peer, subsystem, args, msg_id)` from identity `pyagent`. */
function pySend(peer: string, subsystem: string, args: unknown[], msgId: string): void {
  const key = `${INSTANCE}.${peer === '' ? 'router' : peer}`;
  ch.publish('volttron', key, Buffer.from(JSON.stringify(args), 'utf8'), {
    appId: `${INSTANCE}.pyagent`,
    messageId: msgId,
    type: subsystem,
    contentType: 'application/json',
    headers: { recipient: key, proto: 'VIP', user: `${INSTANCE}.pyagent` },
  });
}
const args = (m: ConsumeMessage): unknown => JSON.parse(m.content.toString('utf8')) as unknown;

describe('a Python-shaped RMQ peer', () => {
  it('is welcomed by the router with the VOLTTRON reply shape', async () => {
    pySend('', 'hello', ['hello'], 'connect.hello.1');
    const m = await inbox.next((x) => x.properties.messageId === 'connect.hello.1', 5_000, 'welcome');
    expect(m.properties).toMatchObject({ type: 'hello', appId: `${INSTANCE}.router`, contentType: 'application/json' });
    expect(m.properties.headers).toMatchObject({ proto: 'VIP' });
    const a = args(m) as string[];
    expect(a[0]).toBe('welcome');
    expect(a[3]).toBe('pyagent');
  });

  it('calls a TypeScript agent over RPC, non-ASCII text included', async () => {
    const request = JSON.stringify({ jsonrpc: '2.0', method: 'echo', params: ['caf\u00e9'], id: 'py-1' });
    pySend('ts.srv', 'RPC', [request], '1716900000.42');
    const m = await inbox.next((x) => x.properties.type === 'RPC', 5_000, 'RPC reply');
    expect(m.properties.appId).toBe(`${INSTANCE}.ts.srv`);
    expect(m.properties.messageId).toBe('1716900000.42');
    const reply = JSON.parse((args(m) as string[])[0] as string) as { id: string; result: unknown };
    expect(reply).toMatchObject({ id: 'py-1', result: 'caf\u00e9' });
  });

  it('lists peers, and gets error 113 for a peer that is not there', async () => {
    pySend('', 'peerlist', ['list'], 'pl-1');
    const list = await inbox.next((x) => x.properties.messageId === 'pl-1', 5_000, 'listing');
    expect(args(list)).toEqual(expect.arrayContaining(['listing', 'pyagent', 'ts.srv']));
    pySend('ghost', 'RPC', ['{}'], 'gh-1');
    const err = await inbox.next((x) => x.properties.messageId === 'gh-1', 5_000, 'error 113');
    expect(err.properties.type).toBe('error');
    expect(args(err)).toEqual(['113', 'No route to host', 'ghost', 'RPC']);
  });

  it('drops a malformed message and keeps serving', async () => {
    ch.publish('volttron', `${INSTANCE}.router`, Buffer.from('not json'), { appId: `${INSTANCE}.pyagent`, type: 'ping', messageId: 'bad' });
    ch.publish('volttron', `${INSTANCE}.router`, Buffer.from('["ping"]'), { messageId: 'no-app-id', type: 'ping' });
    pySend('', 'ping', ['ping', 'x'], 'ping-1');
    const pong = await inbox.next((x) => x.properties.messageId === 'ping-1', 5_000, 'pong');
    expect(args(pong)).toEqual(['pong', 'x']);
    expect(inbox.items.some((x) => x.properties.messageId === 'bad' || x.properties.messageId === 'no-app-id')).toBe(false);
  });
});
