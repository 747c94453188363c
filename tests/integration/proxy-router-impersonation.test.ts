import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Agent } from '@vip/agent';
import { createZmqAgent } from '@vip/agent/zmq';
import { generateKeyPair, UNAUTHORIZED_ERRNUM } from '@vip/protocol';
import {
  AMQP_URL,
  freePort,
  Inbox,
  MANAGEMENT,
  RawVipClient,
  startPlatform,
  waitFor,
  type PlatformProcess,
  type TestVhost,
} from '@vip/testing';
import { freshVhost, management } from './helpers/broker.js';
import { runVipctl } from './helpers/vipctl.js';
import { rawClientAs } from './rmq-raw-client.js';
import { createRmqAgent } from '@vip/agent/rmq';
import { readAgentRmqFile } from '@vip/rmq';

/**
 * Trust through the proxy router (SECURITY.md, "RabbitMQ through the ZeroMQ proxy router"): a
 * ZeroMQ agent admitted at the proxy is a possible attacker. The proxy publishes for it under its
 * own broker user, which the broker does not restrict per peer, so the proxy applies this
 * platform's protected topics by the peer's proven user; a peer cannot hand another agent a pubsub
 * delivery in any sender's name, nor use the linked platforms' operations; an RMQ agent cannot
 * publish as a ZeroMQ peer the proxy hosts. Real sockets, the shared broker on a fresh vhost.
 */
const pid = process.pid;
const INSTANCE = `pxi${pid}`;
const RMQ_SUB = `rmqsub${pid}`;
const EVIL = `evil${pid}`;
const userOf = (identity: string) => `${INSTANCE}.${identity}`;
let vh: TestVhost;
let platform: PlatformProcess;
let address: string;
let rmqSub: Agent;
const atRmq = new Inbox<string>();

const StatsSchema = z.object({
  proxyRouter: z.looseObject({ unauthorized: z.number() }),
  router: z.looseObject({ counters: z.record(z.string(), z.number()) }),
});
async function stats(): Promise<z.infer<typeof StatsSchema>> {
  const v = await rmqSub.query.query('vip-router-stats');
  return StatsSchema.parse(typeof v === 'string' ? JSON.parse(v) : v);
}

/** A ZeroMQ agent at the proxy with its own CURVE key, admitted as `user` pinned to `identity`, started. */
async function zmqAgent(identity: string, user: string, capabilities: Record<string, null> = {}): Promise<Agent> {
  const keys = generateKeyPair();
  await platform.authorize(keys.public, { userId: user, identity, capabilities });
  const agent = await createZmqAgent({
    identity,
    address,
    serverKey: platform.serverkey!,
    publicKey: keys.public,
    secretKey: keys.secret,
    vipHome: platform.home,
  });
  await agent.start();
  return agent;
}

/** A raw ZeroMQ client at the proxy (any frames it likes), admitted as `user` pinned to `identity`, welcomed. */
async function rawZmq(identity: string, user: string): Promise<RawVipClient> {
  const keys = generateKeyPair();
  await platform.authorize(keys.public, { userId: user, identity });
  const raw = RawVipClient.connect({ address, identity, serverKey: platform.serverkey, keys });
  await raw.hello({ timeoutMs: 10_000 });
  return raw;
}

beforeAll(async () => {
  vh = await freshVhost('pximp');
  address = `tcp://127.0.0.1:${await freePort()}`;
  platform = await startPlatform({
    bus: 'rmq',
    rmq: { vhost: vh.vhost, url: AMQP_URL, managementUrl: MANAGEMENT.baseUrl },
    instanceName: INSTANCE,
    args: ['--proxy-router-address', address],
    prepareHome: (home) =>
      writeFile(
        join(home, 'protected_topics.json'),
        JSON.stringify({ 'write-protect': [{ topic: 'guarded/', capabilities: ['can_guard'] }] }),
      ),
  }).catch(async (err: unknown) => {
    await vh.dispose();
    throw err;
  });
  for (const id of [RMQ_SUB, EVIL]) {
    const made = await runVipctl(['auth', 'add', '--identity', id, '--vip-home', platform.home]);
    if (made.code !== 0) throw new Error(`vipctl auth add: ${made.err}`);
  }
  const file = await readAgentRmqFile(platform.home, RMQ_SUB);
  if (!file) throw new Error(`no rmq.json for ${RMQ_SUB}`);
  rmqSub = createRmqAgent({
    identity: RMQ_SUB,
    rmq: { url: file.url, vhost: file.vhost, instanceName: file.instanceName },
    management: false,
    prefixMatch: 'character',
  });
  await rmqSub.start();
  for (const prefix of ['guarded/', 'open/', 'alerts/'])
    await rmqSub.pubsub!.subscribe(prefix, (_p, sender, _b, topic) => atRmq.push(`${sender}:${topic}`));
}, 90_000);

afterAll(async () => {
  await rmqSub?.close();
  await platform?.close();
  for (const u of [RMQ_SUB, EVIL, 'router'].map(userOf)) await management.deleteUser(u).catch(() => undefined);
  await vh?.dispose();
}, 60_000);

describe("a ZeroMQ agent's publishes through the proxy follow this platform's protected topics", () => {
  it("refused without the capability (error -32001, nothing delivered, counted); delivered with it, after auth.json changed (fails before: the capable peer refused too, by the sync of the proxy's broker user)", async () => {
    const plain = await zmqAgent('zmq.plain', 'zmq.plain.user');
    const before = (await stats()).proxyRouter.unauthorized;
    await expect(plain.pubsub!.publish('guarded/x', { message: 'forbidden' })).rejects.toMatchObject({ errnum: UNAUTHORIZED_ERRNUM });
    await plain.pubsub!.publish('open/x', { message: 'fine' });
    expect(await atRmq.next((m) => m.endsWith(':open/x'), 10_000, 'the open publish')).toBe('zmq.plain:open/x');
    expect(atRmq.items.some((m) => m.endsWith('guarded/x'))).toBe(false);
    expect((await stats()).proxyRouter.unauthorized).toBe(before + 1);
    // a capable peer, admitted after start: the auth.json change also re-syncs the broker's topic
    // permissions, which must not restrict the proxy's own login (it publishes for capable peers too)
    const capable = await zmqAgent('zmq.capable', 'zmq.capable.user', { can_guard: null });
    await waitFor(
      async () => {
        await capable.pubsub!.publish('guarded/y', { message: 'allowed' }).catch(() => undefined);
        return atRmq.items.includes('zmq.capable:guarded/y');
      },
      { timeoutMs: 20_000, intervalMs: 500, what: "the capable peer's protected publish" },
    );
    for (const a of [plain, capable]) await a.close();
  });
});

describe("a ZeroMQ agent through the proxy cannot speak for the platform or in another sender's name", () => {
  it("a pubsub delivery it writes to another agent is dropped there, whatever sender it names (fails before: delivered as 'platform.health')", async () => {
    const victim = await zmqAgent('zmq.victim', 'zmq.victim.user');
    const atVictim = new Inbox<string>();
    await victim.pubsub!.subscribe('alerts/', (_p, sender, _b, topic) => atVictim.push(`${sender}:${topic}`));
    const forger = await rawZmq('zmq.forger', 'zmq.forger.user');
    try {
      const forged = JSON.stringify({ sender: 'platform.health', bus: '', headers: {}, message: 'forged' });
      await forger.sendVip('zmq.victim', 'pubsub', ['publish', 'alerts/forged', forged]);
      await forger.sendVip(RMQ_SUB, 'pubsub', ['publish', 'alerts/forged', forged]);
      await waitFor(() => (victim.pubsub!.stats().forged ?? 0) >= 1, { timeoutMs: 10_000, what: 'the forged delivery counted' });
      // its own publish naming another sender in the body: relayed as from the sender the proxy proved
      const claimed = await forger.request('pubsub', ['publish', 'alerts/claimed', forged], 'pub.claimed', { timeoutMs: 10_000 });
      expect(claimed[5]!.toString()).toBe('request_response');
      expect(await atRmq.next((m) => m.endsWith(':alerts/claimed'), 10_000, 'the claimed publish')).toBe('zmq.forger:alerts/claimed');
      expect(await atVictim.next((m) => m.endsWith(':alerts/claimed'), 10_000, 'the claimed publish at the victim')).toBe(
        'zmq.forger:alerts/claimed',
      );
      // an honest publish through the proxy reaches both, from the publisher the proxy proved
      const honest = await zmqAgent('zmq.honest', 'zmq.honest.user');
      await honest.pubsub!.publish('alerts/real', { message: 1 });
      expect(await atVictim.next((m) => m.endsWith(':alerts/real'), 10_000, 'the honest publish at the victim')).toBe(
        'zmq.honest:alerts/real',
      );
      expect(await atRmq.next((m) => m.endsWith(':alerts/real'), 10_000, 'the honest publish at the RMQ agent')).toBe(
        'zmq.honest:alerts/real',
      );
      expect(atVictim.items).toEqual(['zmq.forger:alerts/claimed', 'zmq.honest:alerts/real']);
      expect(atRmq.items.some((m) => m.endsWith('alerts/forged'))).toBe(false);
      await honest.close();
    } finally {
      await forger.close();
      await victim.close();
    }
  });

  it("the linked platforms' pubsub operations (at the proxy and at the RMQ router), an unauthorized protected publish to the router and the proxy's peerlist operations are refused, nothing planted", async () => {
    const liar = await rawZmq('zmq.liar', 'zmq.liar.user');
    try {
      const body = JSON.stringify({ sender: RMQ_SUB, bus: '', headers: {}, message: 'relayed?' });
      const ext = await liar.request('pubsub', ['external_publish', 'alerts/ext', body], 'ext.1', { timeoutMs: 10_000 });
      expect([ext[4]!.toString(), ext[5]!.toString()]).toEqual(['error', '13']);
      const list = await liar.request('pubsub', ['external_list', JSON.stringify({ other: ['alerts/'] })], 'ext.2', { timeoutMs: 10_000 });
      expect([list[4]!.toString(), list[5]!.toString()]).toEqual(['error', '13']);
      // the same to the RMQ router's own pubsub (recipient `router`, relayed over the broker): no link either
      const routed = await liar.request('pubsub', ['external_publish', 'alerts/ext', body], 'ext.3', {
        timeoutMs: 10_000,
        recipient: 'router',
      });
      expect([routed[4]!.toString(), routed[5]!.toString()]).toEqual(['error', '13']);
      // a protected publish to the RMQ router's pubsub: checked there for the peer's proven user as well
      const guarded = JSON.stringify({ bus: '', headers: {}, message: 'x' });
      const viaRouter = await liar.request('pubsub', ['publish', 'guarded/r', guarded], 'pub.1', {
        timeoutMs: 10_000,
        recipient: 'router',
      });
      expect([viaRouter[4]!.toString(), viaRouter[5]!.toString()]).toEqual(['error', String(UNAUTHORIZED_ERRNUM)]);
      // the proxy's own peerlist add, sent by a peer: the router refuses it (only the proxy's user may)
      const add = await liar.request('peerlist', ['add', 'ghost', 'zmq'], 'add.1', { timeoutMs: 10_000 });
      expect(add[5]!.toString()).toBe('error');
      expect(await rmqSub.peerlist.listWithMessagebus()).not.toHaveProperty('ghost');
      expect(atRmq.items.some((m) => m.endsWith('alerts/ext'))).toBe(false);
    } finally {
      await liar.close();
    }
  });
});

describe("an RMQ agent cannot publish as a ZeroMQ peer the proxy hosts, nor as the proxy's relay of a linked platform", () => {
  it("with its own user_id the claim is refused by every receiver; with the proxy's user_id the broker refuses the publish", async () => {
    const host = await zmqAgent('zmq.host', 'zmq.host.user');
    const atHost = new Inbox<string>();
    await host.pubsub!.subscribe('alerts/', (_p, sender, _b, topic) => atHost.push(`${sender}:${topic}`));
    const evil = await rawClientAs(platform.home, EVIL, false);
    const body = (sender: string) => Buffer.from(JSON.stringify({ sender, bus: '', headers: {}, message: 'x' }));
    const props = (userId: string) => ({
      appId: userOf('zmq.host'),
      messageId: `m.${userId}`,
      type: 'pubsub',
      contentType: 'application/json',
      headers: { recipient: '', proto: 'VIP', user: userOf('zmq.host') },
      userId,
    });
    evil.ch.publish('volttron', `__pubsub__.${INSTANCE}.alerts.spoofed.#`, body('zmq.host'), props(userOf(EVIL)));
    const closed = new Promise<void>((resolve) => evil.ch.once('close', () => resolve()));
    evil.ch.on('error', () => undefined);
    evil.ch.publish('volttron', `__pubsub__.${INSTANCE}.alerts.proxied.#`, body('zmq.host'), props(userOf('zmq.proxy.router')));
    await closed; // PRECONDITION_FAILED: user_id is not the connection's user
    await host.pubsub!.publish('alerts/after', { message: 1 });
    expect(await atHost.next((m) => m.endsWith('alerts/after'), 10_000, "the host's own publish")).toBe('zmq.host:alerts/after');
    expect(await atRmq.next((m) => m.endsWith('alerts/after'), 10_000, "the host's publish at the RMQ agent")).toBe(
      'zmq.host:alerts/after',
    );
    for (const got of [atHost.items, atRmq.items]) expect(got.filter((m) => /alerts\/(spoofed|proxied)/.test(m))).toEqual([]);
    await host.close();
  });
  it("without the capability it cannot dodge a protected topic by naming another platform in the key, as the proxy's relay does (fails before: delivered to all_platforms subscribers)", async () => {
    const everywhere: string[] = [];
    await rmqSub.pubsub!.subscribe('guarded/', (_p, sender, _b, topic) => void everywhere.push(`${sender}:${topic}`), {
      allPlatforms: true,
    });
    await waitFor(async () => ((await management.getTopicPermissions(vh.vhost, userOf(EVIL))) ?? []).length > 0, {
      timeoutMs: 20_000,
      what: "the broker's topic permission of the agent without the capability",
    });
    const evil = await rawClientAs(platform.home, EVIL, false);
    const closed = new Promise<string>((resolve) => evil.ch.once('error', (err: Error) => resolve(err.message)));
    const body = Buffer.from(JSON.stringify({ sender: EVIL, bus: '', headers: {}, message: 'dodged' }));
    evil.ch.publish('volttron', '__pubsub__.linked.guarded.dodge.#', body, {
      appId: userOf(EVIL),
      type: 'pubsub',
      contentType: 'application/json',
      headers: { recipient: '', proto: 'VIP', user: userOf(EVIL) },
      userId: userOf(EVIL),
    });
    const accepted = new Promise<string>((resolve) => setTimeout(() => resolve('accepted by the broker'), 10_000).unref());
    expect(await Promise.race([closed, accepted])).toMatch(/ACCESS_REFUSED/);
    // an allowed all_platforms delivery after it: the refused one would have come first
    const capable = await zmqAgent('zmq.capable2', 'zmq.capable2.user', { can_guard: null });
    await capable.pubsub!.publish('guarded/after', { message: 1 });
    await waitFor(() => everywhere.includes('zmq.capable2:guarded/after'), { timeoutMs: 10_000, what: 'the allowed publish' });
    expect(everywhere.filter((m) => m.endsWith('guarded/dodge'))).toEqual([]);
    await capable.close();
  });
});
