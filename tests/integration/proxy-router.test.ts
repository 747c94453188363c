import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Agent, RpcCallContext } from '@vip/agent';
import { createRmqAgent } from '@vip/agent/rmq';
import { createZmqAgent } from '@vip/agent/zmq';
import { generateKeyPair } from '@vip/protocol';
import { readAgentRmqFile, viaProxyPublish } from '@vip/rmq';
import { freePort, RawVipClient, waitFor } from '@vip/testing';
import { Inbox } from '@vip/testing';
import { startAgentUserPlatform, type AgentUserPlatform } from './rmq-agent-user-platform.js';
import { rawClientAs, rpcRequest, sendVip } from './rmq-raw-client.js';

/**
 * Issue 12: ZeroMQ agents on a RabbitMQ platform through the proxy router (`--proxy-router-address`),
 * on the shared broker with per-agent broker users (the platform's default): RPC and pubsub both
 * ways, the peer list with buses, a VOLTTRON-shaped raw ZeroMQ client, and the trust rules: a
 * ZeroMQ peer is who its CURVE key says, an RMQ agent cannot speak as the proxy or through it as
 * another.
 */
const pid = process.pid;
const INSTANCE = `prx${pid}`;
const RMQ_A = `rmqa${pid}`;
const EVIL = `evil${pid}`;
const userOf = (identity: string) => `${INSTANCE}.${identity}`;
let p: AgentUserPlatform;
let address: string;
let rmqA: Agent;
let zmqA: Agent;

const StatsSchema = z.object({
  proxyRouter: z.looseObject({ spoofed: z.number(), refused: z.number(), viaInbox: z.number(), peers: z.number() }),
  router: z.looseObject({ counters: z.record(z.string(), z.number()) }),
  transport: z.looseObject({ spoofed: z.number() }),
});
async function stats(): Promise<z.infer<typeof StatsSchema>> {
  const v = await p.watcher.query.query('vip-router-stats');
  return StatsSchema.parse(typeof v === 'string' ? JSON.parse(v) : v);
}

/** A ZeroMQ agent with its own CURVE key, admitted in auth.json as `user` (pinned to `identity` when asked). */
async function zmqAgent(identity: string, user: string, pinned = true): Promise<Agent> {
  const keys = generateKeyPair();
  await p.platform.authorize(keys.public, { userId: user, ...(pinned ? { identity } : {}) });
  const agent = await createZmqAgent({
    identity,
    address,
    serverKey: p.platform.serverkey!,
    publicKey: keys.public,
    secretKey: keys.secret,
    vipHome: p.platform.home,
  });
  return agent;
}

beforeAll(async () => {
  address = `tcp://127.0.0.1:${await freePort()}`;
  p = await startAgentUserPlatform('proxy', INSTANCE, ['--proxy-router-address', address]);
  for (const id of [RMQ_A, EVIL]) {
    const r = await p.vipctl('auth', 'add', '--identity', id);
    if (r.code !== 0) throw new Error(`vipctl auth add: ${r.err}`);
  }
  const file = await readAgentRmqFile(p.platform.home, RMQ_A);
  if (!file) throw new Error(`no rmq.json for ${RMQ_A}`);
  rmqA = createRmqAgent({ identity: RMQ_A, rmq: { url: file.url, vhost: file.vhost, instanceName: file.instanceName }, management: false });
  rmqA.rpc.export('whoami', function (this: RpcCallContext, x: unknown) {
    return { caller: this.caller, user: this.user, x };
  });
  zmqA = await zmqAgent('zmq.a', 'zmq.a.user');
  zmqA.rpc.export('whoami', function (this: RpcCallContext, x: unknown) {
    return { caller: this.caller, user: this.user, x };
  });
  await rmqA.start();
  await zmqA.start();
}, 90_000);

afterAll(async () => {
  await zmqA?.close();
  await rmqA?.close();
  await p?.dispose([RMQ_A, EVIL].map(userOf));
});

describe('a ZeroMQ agent and an RMQ agent on one RabbitMQ platform', () => {
  it("call each other; each callee sees the caller's proven user", async () => {
    expect(await zmqA.rpc.call(RMQ_A, 'whoami', { bin: 'é\u0000"x"' })).toEqual({
      caller: 'zmq.a',
      user: 'zmq.a.user',
      x: { bin: 'é\u0000"x"' },
    });
    // rmqA heard `peerlist add zmq.a zmq` at once, or learns it now: it sends through the proxy inbox
    expect(await rmqA.peerlist.listWithMessagebus()).toMatchObject({ 'zmq.a': 'zmq', [RMQ_A]: 'rmq' });
    expect(await rmqA.rpc.call('zmq.a', 'whoami', [1, '2'])).toEqual({ caller: RMQ_A, user: userOf(RMQ_A), x: [1, '2'] });
    expect(await zmqA.peerlist.list()).toEqual(expect.arrayContaining([RMQ_A, 'zmq.a', 'control']));
  });

  it('exchange pubsub both ways', async () => {
    const atZmq = new Inbox<[string, string, unknown]>();
    const atRmq = new Inbox<[string, string, unknown]>();
    await zmqA.pubsub!.subscribe('to-zmq/', (_p, sender, _b, topic, _h, message) => atZmq.push([sender, topic, message]));
    await rmqA.pubsub!.subscribe('to-rmq', (_p, sender, _b, topic, _h, message) => atRmq.push([sender, topic, message]));
    await rmqA.pubsub!.publish('to-zmq/dev/1', { message: { t: 20.5 } });
    expect(await atZmq.next(() => true, 10_000, 'publish at zmq.a')).toEqual([RMQ_A, 'to-zmq/dev/1', { t: 20.5 }]);
    await zmqA.pubsub!.publish('to-rmq/x', { message: [1, 'two'] });
    expect(await atRmq.next(() => true, 10_000, 'publish at rmqA')).toEqual(['zmq.a', 'to-rmq/x', [1, 'two']]);
  });

  it("a VOLTTRON-shaped raw ZeroMQ client: hello, peerlist, an RPC call with Python's frames, byte-exact answers", async () => {
    const keys = generateKeyPair();
    await p.platform.authorize(keys.public, { userId: 'py.zmq', identity: 'py.zmq' });
    const py = RawVipClient.connect({ address, identity: 'py.zmq', serverKey: p.platform.serverkey, keys });
    try {
      const welcome = await py.hello({ timeoutMs: 10_000 });
      expect(welcome.slice(5).map((f) => f.toString())).toEqual(['welcome', '1.0', 'router', 'py.zmq']);
      const listing = await py.request('peerlist', ['list_with_messagebus'], 'lwm.1');
      expect(JSON.parse(listing[6]!.toString())).toMatchObject({ 'py.zmq': 'zmq', [RMQ_A]: 'rmq' });
      // Python's own id form and a request whose argument looks like broken JSON
      const id = Buffer.from('1.140179417843952', 'latin1');
      const request = JSON.stringify({ jsonrpc: '2.0', method: 'whoami', params: ['["Invalid json format"'], id: '1.140179417843952' });
      await py.sendVip(RMQ_A, 'RPC', [request], { id, user: userOf(RMQ_A) }); // a forged user frame: ignored
      const answer = await py.receiveReply(id.toString('latin1'), 'RPC', { timeoutMs: 10_000 });
      expect(answer[0]!.toString()).toBe(RMQ_A);
      expect(JSON.parse(answer[5]!.toString())).toMatchObject({
        result: { caller: 'py.zmq', user: 'py.zmq', x: '["Invalid json format"' },
      });
    } finally {
      await py.close();
    }
  });
});

describe('byte fidelity over the real buses', () => {
  it('binary, non-UTF-8, JSON-looking and empty frames and a binary id cross both ways unchanged', async () => {
    const keys = generateKeyPair();
    await p.platform.authorize(keys.public, { userId: 'zmq.bytes', identity: 'zmq.bytes' });
    const z = RawVipClient.connect({ address, identity: 'zmq.bytes', serverKey: p.platform.serverkey, keys });
    const r = await rawClientAs(p.platform.home, EVIL, true);
    try {
      await z.hello({ timeoutMs: 10_000 });
      const frames = [
        Buffer.from([0xff, 0xfe, 0x00, 0x80]),
        Buffer.from('["Invalid json format"'),
        Buffer.from('{"jsonrpc": "2.0", "id": 7}'),
        Buffer.alloc(0),
        Buffer.from([0xc3, 0x28]),
        Buffer.from('\u00e9t\u00e9'),
      ];
      const id = Buffer.from([0x84, 0x2d, 0xd6, 0x4e]);
      await z.sendVip(EVIL, 'blob', frames, { id });
      const got = await r.inbox.next((m) => m.properties.type === 'blob', 10_000, 'blob at EVIL');
      expect(Buffer.from(got.properties.messageId as string, 'latin1')).toEqual(id);
      // back through the proxy inbox, as VOLTTRON's RMQ agents send to ZeroMQ peers: the body as it came
      const back = viaProxyPublish(
        { peer: Buffer.from('zmq.bytes'), user: Buffer.from(''), id, subsystem: Buffer.from('blob'), args: [] },
        { instance: INSTANCE, identity: EVIL },
        userOf(EVIL),
      );
      const list = [...(JSON.parse(back.content.toString()) as unknown[]), ...(JSON.parse(got.content.toString()) as unknown[])];
      r.ch.publish('volttron', back.routingKey, Buffer.from(JSON.stringify(list)), back.properties);
      const answer = await z.receiveMatching((f) => f[4]?.toString() === 'blob', { timeoutMs: 10_000 });
      expect(answer[0]!.toString()).toBe(EVIL);
      expect(answer[3]).toEqual(id);
      expect(answer.slice(5)).toEqual(frames);
    } finally {
      await z.close();
    }
  });
});

describe('trust through the proxy', () => {
  it("a ZeroMQ key claiming an RMQ agent's identity is refused (error 13); the RMQ agent keeps it", async () => {
    const before = (await stats()).proxyRouter.refused;
    const keys = generateKeyPair();
    await p.platform.authorize(keys.public, { userId: 'zmq.impostor' });
    const impostor = RawVipClient.connect({ address, identity: RMQ_A, serverKey: p.platform.serverkey, keys });
    try {
      const refused = await impostor.hello({ timeoutMs: 10_000 });
      expect(refused[4]!.toString()).toBe('error');
      expect(refused[5]!.toString()).toBe('13');
    } finally {
      await impostor.close();
    }
    expect((await stats()).proxyRouter.refused).toBeGreaterThan(before);
    expect(await rmqA.peerlist.listWithMessagebus()).toMatchObject({ [RMQ_A]: 'rmq' });
    expect(await zmqA.rpc.call(RMQ_A, 'whoami', 0)).toMatchObject({ caller: 'zmq.a' });
  });

  it('no ZeroMQ key takes a platform service identity through the proxy, pinned to it or not (error 13)', async () => {
    for (const [identity, pin] of [
      ['config.store', false],
      ['platform.health', true],
    ] as const) {
      const keys = generateKeyPair();
      await p.platform.authorize(keys.public, { userId: `zmq.${identity}`, ...(pin ? { identity } : {}) });
      const squatter = RawVipClient.connect({ address, identity, serverKey: p.platform.serverkey, keys });
      try {
        const refused = await squatter.hello({ timeoutMs: 10_000 });
        expect([refused[4]!.toString(), refused[5]!.toString()]).toEqual(['error', '13']);
      } finally {
        await squatter.close();
      }
      // config.store (and platform.health once it runs) are the platform's own RabbitMQ peers: the
      // squatter must not appear as a ZeroMQ peer under their name.
      expect((await rmqA.peerlist.listWithMessagebus())[identity]).not.toBe('zmq');
    }
  });

  it("an RMQ agent may not send the proxy's peerlist add/drop, nor publish as the proxy", async () => {
    const evil = await rawClientAs(p.platform.home, EVIL, true);
    sendVip(evil.ch, INSTANCE, 'router', 'peerlist', ['add', 'ghost', 'zmq'], 'add.1', { appId: userOf(EVIL), user: userOf(EVIL) });
    const answer = await evil.inbox.next((m) => m.properties.messageId === 'add.1', 10_000, 'peerlist add answer');
    expect(JSON.parse(answer.content.toString())[0]).toBe('error');
    const spoofedBefore = (await stats()).transport.spoofed;
    sendVip(evil.ch, INSTANCE, 'router', 'peerlist', ['add', 'ghost2', 'zmq'], 'add.2', {
      appId: userOf('zmq.proxy.router'),
      user: userOf('zmq.proxy.router'),
      userId: userOf(EVIL),
    });
    await waitFor(async () => (await stats()).transport.spoofed > spoofedBefore, { what: 'spoofed proxy claim counted' });
    const table = await rmqA.peerlist.listWithMessagebus();
    expect(table).not.toHaveProperty('ghost');
    expect(table).not.toHaveProperty('ghost2');
    expect((await stats()).router.counters['peerlist add refused']).toBeGreaterThanOrEqual(1);
  });

  it('an RMQ agent writing a frame list into the proxy inbox as another agent is dropped; as itself it is delivered', async () => {
    const atZmq = new Inbox<string>();
    zmqA.rpc.export('note', function (this: RpcCallContext, x: string) {
      atZmq.push(`${this.caller}:${x}`);
    });
    const evil = await rawClientAs(p.platform.home, EVIL, true);
    const before = (await stats()).proxyRouter.spoofed;
    const forged = viaProxyPublish(
      {
        peer: Buffer.from('zmq.a'),
        user: Buffer.from(''),
        id: Buffer.from(''),
        subsystem: Buffer.from('RPC'),
        args: [Buffer.from(JSON.stringify({ jsonrpc: '2.0', method: 'note', params: ['forged'] }))],
      },
      { instance: INSTANCE, identity: EVIL },
      userOf(EVIL),
    );
    const frames = JSON.parse(forged.content.toString()) as string[];
    frames[1] = RMQ_A; // the frame list claims rmqA; the broker proves EVIL
    evil.ch.publish('volttron', forged.routingKey, Buffer.from(JSON.stringify(frames)), forged.properties);
    await waitFor(async () => (await stats()).proxyRouter.spoofed > before, { what: 'forged inbox frame list counted' });
    evil.ch.publish('volttron', forged.routingKey, forged.content, forged.properties);
    expect(await atZmq.next(() => true, 10_000, 'the honest notification')).toBe(`${EVIL}:forged`);
    expect(atZmq.items).toEqual([`${EVIL}:forged`]);
  });

  it("the ZeroMQ peer's user frame is never what it wrote: a raw RMQ callee reads the proven user", async () => {
    const evil = await rawClientAs(p.platform.home, EVIL, true);
    const keys = generateKeyPair();
    await p.platform.authorize(keys.public, { userId: 'zmq.liar', identity: 'zmq.liar' });
    const liar = RawVipClient.connect({ address, identity: 'zmq.liar', serverKey: p.platform.serverkey, keys });
    try {
      await liar.hello({ timeoutMs: 10_000 });
      await liar.sendVip(EVIL, 'RPC', rpcRequest('x', 'r1'), { id: 'r1', user: userOf('control') });
      const got = await evil.inbox.next((m) => m.properties.messageId === 'r1', 10_000, 'the call at EVIL');
      expect((got.properties.headers as Record<string, unknown>).user).toBe(userOf('zmq.liar'));
      expect(got.properties.appId).toBe(userOf('zmq.liar'));
      expect(got.properties.userId).toBe(userOf('zmq.proxy.router'));
    } finally {
      await liar.close();
    }
  });
});
