import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '@vip/agent';
import { createRmqAgent } from '@vip/agent/rmq';
import { generateKeyPair } from '@vip/protocol';
import { AMQP_URL, FAST_RECONNECT, Inbox, type TestVhost } from '@vip/testing';
import { freshVhost } from './helpers/broker.js';
import { failedStart, startPlatform, waitFor, type PlatformProcess } from '@vip/testing';

/**
 * `vip-platform --message-bus rmq` as a process: the ready line and `query message-bus`, the RMQ
 * router subsystems (docs/protocol.md 7.5) spoken to by a peer shaped like VOLTTRON's Python
 * RMQConnection (raw amqplib), and one-line start-up errors when the broker is not there.
 */
const INSTANCE = 'prmq';
let vh: TestVhost;
let platform: PlatformProcess;
let watcher: Agent;
let py: PythonShapedPeer;

/** A peer publishing and consuming as VOLTTRON's Python RMQConnection (pika) does, identity `pyagent`. */
interface PythonShapedPeer {
  readonly inbox: Inbox<ConsumeMessage>;
  /** `send_vip(peer, subsystem, args, msg_id)`: JSON args, VIP headers, routing key `<instance>.<peer|router>`. */
  send(peer: string, subsystem: string, args: unknown[], msgId: string): void;
  close(): Promise<void>;
}

async function pythonShapedPeer(vhost: string, identity: string): Promise<PythonShapedPeer> {
  const conn: ChannelModel = await amqp.connect(`${AMQP_URL}/${encodeURIComponent(vhost)}`, { noDelay: true });
  const channel: Channel = await conn.createChannel();
  const own = `${INSTANCE}.${identity}`;
  const inbox = new Inbox<ConsumeMessage>();
  await channel.assertQueue(own, { durable: false, exclusive: true, autoDelete: true });
  await channel.bindQueue(own, 'volttron', own);
  await channel.consume(own, (m) => m && inbox.push(m), { noAck: true });
  return {
    inbox,
    send(peer, subsystem, args, msgId) {
      const to = `${INSTANCE}.${peer || 'router'}`;
      const headers = { recipient: to, proto: 'VIP', user: own };
      channel.publish('volttron', to, Buffer.from(JSON.stringify(args), 'utf8'), {
        appId: own,
        messageId: msgId,
        type: subsystem,
        contentType: 'application/json',
        headers,
      });
    },
    close: () => conn.close(),
  };
}

beforeAll(async () => {
  vh = await freshVhost('platform-rmq');
  // shared login (opt-in): the watcher and the Python-shaped peers log in as guest without user_id and are
  // taken at their word, as on VOLTTRON (proofs: rmq-sender-identity.test.ts, rmq-impersonation.test.ts)
  platform = await startPlatform({ bus: 'rmq', rmq: { vhost: vh.vhost, url: AMQP_URL, sharedLogin: true }, instanceName: INSTANCE });
  watcher = createRmqAgent({
    identity: 'ts.watcher',
    rmq: { url: AMQP_URL, vhost: vh.vhost, instanceName: INSTANCE, reconnect: FAST_RECONNECT },
  });
  await watcher.start();
  py = await pythonShapedPeer(vh.vhost, 'pyagent');
});
afterAll(async () => {
  await py?.close();
  await watcher?.close();
  await platform?.close();
  await vh?.dispose();
});

const pySend = (peer: string, subsystem: string, args: unknown[], msgId: string) => py.send(peer, subsystem, args, msgId);
const argsOf = (m: ConsumeMessage): unknown[] => JSON.parse(m.content.toString('utf8')) as unknown[];
const reply = (id: string, what: string) => py.inbox.next((x) => x.properties.messageId === id, 5_000, what);

describe('vip-platform on RabbitMQ (process)', () => {
  it('says rmq in its ready line and to `query message-bus`', async () => {
    expect(platform.bus).toBe('rmq');
    expect(platform.addresses).toEqual([`amqp://127.0.0.1:5672/${vh.vhost}`]);
    expect(await watcher.query.query('message-bus')).toBe('rmq');
    expect(await watcher.query.query('instance-name')).toBe(INSTANCE);
  });

  it("answers a Python peer's query as VOLTTRON's RMQ router lays it out: ['', value, ''], lists as lists, None as null (protocol.md 7.5)", async () => {
    // fails before: the body was ["", "[\"amqp://...\"]"] (two arguments, the list as a JSON string)
    const asked = { addresses: 'q-addr', 'instance-name': 'q-inst', 'no-such-property': 'q-none' };
    for (const [property, id] of Object.entries(asked)) pySend('', 'query', [property], id);
    const body = async (id: string) => (await reply(id, `query ${id}`)).content.toString('utf8');
    expect(await body('q-addr')).toBe(JSON.stringify(['', [`amqp://127.0.0.1:5672/${vh.vhost}`], '']));
    expect(await body('q-inst')).toBe(JSON.stringify(['', INSTANCE, '']));
    expect(await body('q-none')).toBe(JSON.stringify(['', null, '']));
    // and a TypeScript agent reads the same answers as values
    expect(await watcher.query.query('addresses')).toEqual([`amqp://127.0.0.1:5672/${vh.vhost}`]);
    expect(await watcher.query.query('no-such-property')).toBeNull();
  });

  it('runs platform.health on RabbitMQ too: rows for the connected agents', async () => {
    const health = await watcher.rpc.call<Record<string, { peer: string; service_agent: boolean }>>(
      'platform.health',
      'get_platform_health',
    );
    expect(health['ts.watcher']).toMatchObject({ peer: 'ts.watcher', service_agent: false });
    expect(health['platform.auth']).toMatchObject({ service_agent: true });
  });

  it('runs the control and platform.auth services as RMQ agents', async () => {
    expect(await watcher.peerlist.list()).toEqual(expect.arrayContaining(['control', 'platform.auth']));
    expect(await watcher.rpc.call('control', 'stats.enabled')).toBe(false);
    await platform.authorize(generateKeyPair().public, { userId: 'rmq.ops', capabilities: ['can_ops'] }); // waits for the reload
    // Every user's capabilities only for a reader (auth.json user ts.watcher: its VIP user without `<instance>.`)
    expect(await watcher.rpc.call('platform.auth', 'get_user_to_capabilities')).not.toHaveProperty('rmq.ops');
    await platform.authorize(generateKeyPair().public, { userId: 'ts.watcher', capabilities: ['read_user_capabilities'] });
    expect(await watcher.rpc.call('platform.auth', 'get_user_to_capabilities')).toMatchObject({ 'rmq.ops': { can_ops: null } });
  });

  it('welcomes as `router` and lists peers with their bus', async () => {
    pySend('', 'hello', ['hello'], 'connect.hello.1');
    expect(argsOf(await reply('connect.hello.1', 'welcome'))).toEqual(['welcome', '1.0', 'router', 'pyagent']);
    pySend('', 'peerlist', ['list_with_messagebus'], 'lwm-1');
    const listing = argsOf(await reply('lwm-1', 'listing_with_messagebus'));
    expect(listing[0]).toBe('listing_with_messagebus');
    expect(JSON.parse(String(listing[1]))).toMatchObject({ pyagent: 'rmq', 'ts.watcher': 'rmq', control: 'rmq' });
  });

  it("takes the proxy's peerlist add/drop with a bus: table updated, RMQ peers told; another peer's are refused", async () => {
    const added: string[] = [];
    const dropped: string[] = [];
    watcher.peerlist.onAdd((p) => added.push(p));
    watcher.peerlist.onDrop((p) => dropped.push(p));
    pySend('', 'peerlist', ['add', 'zmq.agent', 'zmq'], 'add-0');
    expect(argsOf(await reply('add-0', 'add refusal'))[0]).toBe('error');
    const proxy = await pythonShapedPeer(vh.vhost, 'zmq.proxy.router');
    const proxySend = (args: unknown[], id: string) => proxy.send('', 'peerlist', args, id);
    proxySend(['add', 'zmq.agent', 'zmq'], 'add-1');
    expect(argsOf(await proxy.inbox.next((x) => x.properties.messageId === 'add-1', 5_000, 'add echo'))).toEqual([
      'add',
      'zmq.agent',
      'zmq',
    ]);
    await waitFor(() => added.includes('zmq.agent'), { what: 'peerlist add of zmq.agent' });
    pySend('', 'peerlist', ['list_with_messagebus'], 'lwm-2');
    expect(JSON.parse(String(argsOf(await reply('lwm-2', 'listing'))[1]))).toMatchObject({ 'zmq.agent': 'zmq' });
    expect(await watcher.peerlist.list()).toContain('zmq.agent');
    proxySend(['drop', 'zmq.agent', 'zmq'], 'drop-1');
    await waitFor(() => dropped.includes('zmq.agent'), { what: 'peerlist drop of zmq.agent' });
    expect(await watcher.peerlist.list()).not.toContain('zmq.agent');
    await proxy.close();
  });

  it("sees an RMQ agent's stop at once as a peerlist drop: its final agentstop reaches the broker before the connection closes", async () => {
    const dropped: string[] = [];
    const off = watcher.peerlist.onDrop((p) => dropped.push(p));
    const leaver = createRmqAgent({ identity: 'ts.leaver', rmq: { url: AMQP_URL, vhost: vh.vhost, instanceName: INSTANCE } });
    await leaver.start();
    expect(await watcher.peerlist.list()).toContain('ts.leaver');
    await leaver.stop();
    // The agentstop is in the router's queue before this request (its channel closed after it), so
    // the router has dropped the peer when it answers: no wait for the 5 s queue sweep.
    expect(await watcher.peerlist.list()).not.toContain('ts.leaver');
    await waitFor(() => dropped.includes('ts.leaver'), { what: 'peerlist drop of ts.leaver' });
    off();
  });

  it('answers an unknown subsystem with a well-formed error 93; error 113 to the router drops the recipient', async () => {
    pySend('', 'nosuch', ['x'], 'u-1');
    const err = await reply('u-1', 'error 93');
    expect(err.properties.type).toBe('error');
    expect(argsOf(err)).toEqual(['93', 'Protocol not supported', '', 'nosuch']);
    const dropped: string[] = [];
    watcher.peerlist.onDrop((p) => dropped.push(p));
    const proxy = await pythonShapedPeer(vh.vhost, 'zmq.proxy.router');
    proxy.send('', 'peerlist', ['add', 'gone.peer'], 'add-2');
    await proxy.inbox.next((x) => x.properties.messageId === 'add-2', 5_000, 'add echo');
    await proxy.close();
    pySend('', 'error', [113, 'No route to host', `${INSTANCE}.gone.peer`, 'RPC'], 'e-1');
    await waitFor(() => dropped.includes('gone.peer'), { what: 'gone.peer dropped after error 113' });
  });
});

describe('vip-platform on RabbitMQ: start-up errors are one line with the fix', () => {
  it('broker down, vhost missing without the management API, management API missing, instance already running', async () => {
    const down = await failedStart(
      startPlatform({
        bus: 'rmq',
        rmq: {
          vhost: 'vip-no-broker',
          url: 'amqp://guest:guest@127.0.0.1:5999',
          managementUrl: 'http://127.0.0.1:15999',
          sharedLogin: true,
        },
        startTimeoutMs: 15_000,
      }),
    );
    expect(down.message).toMatch(
      /vip-platform: RabbitMQ is not reachable at amqp:\/\/127\.0\.0\.1:5999\/vip-no-broker \(ECONNREFUSED\); fix: start the broker/,
    );
    expect(down.message).not.toMatch(/\n\s+at /);
    const noVhost = await failedStart(
      startPlatform({
        bus: 'rmq',
        rmq: { vhost: `vip-missing-${process.pid}`, url: AMQP_URL, managementUrl: 'off', sharedLogin: true },
        startTimeoutMs: 15_000,
      }),
    );
    expect(noVhost.message).toMatch(/vip-platform: virtual host "vip-missing-\d+" is missing .*; fix: create it/);
    const noPlugin = await failedStart(
      startPlatform({
        bus: 'rmq',
        rmq: { vhost: vh.vhost, url: AMQP_URL, managementUrl: 'http://127.0.0.1:15999', sharedLogin: true },
        instanceName: 'noplugin',
        startTimeoutMs: 15_000,
      }),
    );
    const twice = await failedStart(
      startPlatform({
        bus: 'rmq',
        rmq: { vhost: vh.vhost, url: AMQP_URL, sharedLogin: true },
        instanceName: INSTANCE,
        startTimeoutMs: 15_000,
      }),
    );
    expect(twice.message).toMatch(
      /vip-platform: another platform with instance name prmq is running on amqp:\/\/127\.0\.0\.1:5672\/.*; fix: stop it/,
    );
    expect(noPlugin.message).toMatch(
      /vip-platform: RabbitMQ management API not reachable at http:\/\/127\.0\.0\.1:15999 .*; fix: enable it: rabbitmq-plugins enable rabbitmq_management/,
    );
  });
});
