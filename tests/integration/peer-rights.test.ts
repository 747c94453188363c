/**
 * Who may do what once admitted (issue 10, items 2-5), against a real platform process on
 * ZeroMQ with CURVE: each peer's rights come from the user its key was admitted as, never from a
 * frame it wrote. In every case an attacker admitted with a key of its own (no capabilities)
 * tries, and the legitimate use is shown to still work.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { z } from 'zod';
import { generateKeyPair, type CurveKeyPair, type Frame } from '@vip/protocol';
import { openRawClient, RawVipClient, routerStats, startPlatform, waitFor, type PlatformProcess } from '@vip/testing';
import { UnauthorizedError, type Agent } from '@vip/agent';
import { createZmqAgent } from '@vip/agent/zmq';

let platform: PlatformProcess;
/** Admitted with a key of its own, user `mallory`, no capabilities. */
let mallory: RawVipClient;
/** Sees the router's counters (query vip-router-stats). */
let watcher: RawVipClient;
const agents: Agent[] = [];
/** Keys admitted before any test runs (see the RPC test). */
const keysOf = { thermostat: generateKeyPair(), ui: generateKeyPair() };

const text = (frames: readonly Frame[]): string[] => frames.map((f) => f.toString('utf8'));
const pubsubBody = (v: unknown) => JSON.stringify(v);

/** An agent with a key of its own admitted for `identity` (now, or by `admitAgent` earlier), started. */
async function agentWith(identity: string, capabilities: Record<string, null> = {}, keys?: CurveKeyPair): Promise<Agent> {
  if (keys === undefined) {
    keys = generateKeyPair();
    await platform.authorize(keys.public, { identity, capabilities });
  }
  const agent = await createZmqAgent({
    identity,
    address: platform.tcpAddress,
    serverKey: platform.serverkey ?? '',
    publicKey: keys.public,
    secretKey: keys.secret,
    vipHome: platform.home,
  });
  agents.push(agent);
  await agent.start();
  return agent;
}

const CountsSchema = z.record(z.string(), z.number());
const StatsSchema = z.looseObject({
  router: z.looseObject({
    dropped: CountsSchema,
    errors: CountsSchema,
    counters: CountsSchema,
    extensions: z.record(z.string(), CountsSchema),
  }),
});
async function counters(): Promise<z.infer<typeof StatsSchema>['router']> {
  return StatsSchema.parse(await routerStats(watcher)).router;
}

/** A raw client subscribed to `prefix`, collecting what is published to it. */
async function subscriber(identity: string, prefix: string): Promise<RawVipClient> {
  const client = await openRawClient(platform, identity);
  onTestFinished(() => client.close());
  const ack = await client.request('pubsub', ['subscribe', pubsubBody({ prefix, bus: '', all_platforms: false })], `sub.${identity}`);
  expect(text(ack).slice(4, 5)).toEqual(['pubsub']);
  return client;
}

const publishes = (client: RawVipClient): string[][] =>
  client.inbox
    .drain()
    .filter((f) => f[5]?.toString() === 'publish')
    .map((f) => text(f.slice(5)));

beforeAll(async () => {
  platform = await startPlatform({ logLevel: 'info' });
  const loaded = platform.waitForLog('pubsub.config.loaded', { timeoutMs: 10_000 });
  await writeFile(
    join(platform.home, 'protected_topics.json'),
    JSON.stringify({ 'write-protect': [{ topic: 'secure/', capabilities: ['can_secure'] }] }),
  );
  await loaded;
  await platform.authorize(keysOf.thermostat.public, { identity: 'thermostat', capabilities: { read_user_capabilities: null } });
  await platform.authorize(keysOf.ui.public, { identity: 'ui', capabilities: { can_set: null } });
  mallory = await openRawClient(platform, 'mallory');
  watcher = await openRawClient(platform, 'rights.watcher');
}, 60_000);

afterAll(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
  await mallory?.close();
  await watcher?.close();
  await platform?.close();
});

describe('RPC responses and the capability map (item 4)', () => {
  /**
   * The attack as the review ran it: call a protected method of a freshly started agent, which
   * makes it ask platform.auth for the capability map, and right behind the call send it
   * responses for the ids it may have used, likeliest first, one message per guess of the count:
   * the ids were `<second the agent started + n - 1>.000000.<n>.000000`, and the attacker saw the
   * agent arrive (peerlist add). Returns one message (a list of RPC frames) per n.
   */
  function forgedResponses(user: string, startedAt: number): string[][] {
    const messages: string[][] = [];
    for (let n = 1; n <= 40; n++) {
      const frames: string[] = [];
      for (let start = startedAt + 1; start >= startedAt - 1; start--) {
        frames.push(JSON.stringify({ jsonrpc: '2.0', id: `${start + n - 1}.000000.${n}.000000`, result: { [user]: { can_set: null } } }));
      }
      messages.push(frames);
    }
    return messages;
  }

  it('a forged get_user_to_capabilities response does not plant a map: set_point is refused to mallory, allowed to ui', async () => {
    // Both admitted in beforeAll: no auth.json change (hence no auth.update push) reaches the
    // thermostat before its first check, which therefore asks platform.auth.
    const ui = await agentWith('ui', {}, keysOf.ui);
    const startedAt = Math.floor(Date.now() / 1000);
    const thermostat = await createZmqAgent({
      identity: 'thermostat',
      address: platform.tcpAddress,
      serverKey: platform.serverkey ?? '',
      publicKey: keysOf.thermostat.public,
      secretKey: keysOf.thermostat.secret,
      vipHome: platform.home,
    });
    agents.push(thermostat);
    thermostat.rpc.export('set_point', (value: number) => ({ ok: true, value }), { params: ['value'], allow: 'can_set' });
    await thermostat.start();
    await mallory.sendVip('thermostat', 'RPC', ['{"jsonrpc": "2.0", "method": "set_point", "params": [99], "id": "attack"}'], {
      id: 'attack',
    });
    for (const frames of forgedResponses('mallory', startedAt)) void mallory.sendVip('thermostat', 'RPC', frames, { id: 'forged' });
    const answer = JSON.parse(text(await mallory.receiveReply('attack', 'RPC'))[5] ?? '{}') as {
      result?: unknown;
      error?: { data?: { detail?: string } };
    };
    expect(answer.result).toBeUndefined();
    expect(answer.error?.data?.detail).toMatch(
      /^method 'set_point' requires capabilities \{'can_set'\}, but capability \{\} was provided for user mallory$/,
    );
    expect(await ui.rpc.call('thermostat', 'set_point', 21)).toEqual({ ok: true, value: 21 });
    expect(thermostat.stats()['replies.unmatched'] ?? 0).toBeGreaterThan(0); // the forgeries arrived, and matched nothing
  });
});

describe('platform-level pubsub operations (item 2)', () => {
  it('external_publish from a local agent is refused with error 13 and counted: no protected-topic pass with a forged user frame, no spoofed sender', async () => {
    const sub = await subscriber('ext.sub', '');
    const forged = (topic: string, sender: string, id: string) =>
      mallory.sendVip('', 'pubsub', ['external_publish', topic, pubsubBody({ sender, bus: '', headers: {}, message: 'forged' })], {
        id,
        user: 'pub.secure',
      });
    await forged('secure/valve', 'platform.auth', 'x1');
    await forged('open/news', 'thermostat', 'x2');
    for (const id of ['x1', 'x2']) {
      expect(text(await mallory.receiveReply(id, 'error')).slice(5)).toEqual([
        '13',
        'Permission denied: pubsub external_publish is accepted only from a platform link',
        '',
        'pubsub',
      ]);
    }
    await mallory.sendVip('', 'pubsub', ['external_list', pubsubBody({ elsewhere: ['secure/'] })], { id: 'x3' });
    expect(text(await mallory.receiveReply('x3', 'error')).slice(5, 7)).toEqual([
      '13',
      'Permission denied: pubsub external_list is accepted only from a platform link',
    ]);
    expect((await counters()).extensions.pubsub?.['rejected.not_platform_link']).toBe(3);

    // The legitimate paths: mallory's own publish arrives under its own name; the protected
    // topic is refused for mallory (its proven user) and admitted for a holder of can_secure.
    const ack = await mallory.request('pubsub', ['publish', 'open/news', pubsubBody({ bus: '', headers: {}, message: 1 })], 'p1');
    expect(ack[6]?.readUInt32LE(0)).toBe(1);
    await mallory.sendVip('', 'pubsub', ['publish', 'secure/valve', pubsubBody({ bus: '', headers: {}, message: 2 })], {
      id: 'p2',
      user: 'pub.secure',
    });
    expect(text(await mallory.receiveReply('p2', 'error'))[5]).toBe('-32001');
    const holder = await openRawClient(platform, 'pub.secure', { capabilities: ['can_secure'] });
    onTestFinished(() => holder.close());
    expect(
      (
        await holder.request('pubsub', ['publish', 'secure/valve', pubsubBody({ bus: '', headers: {}, message: 3 })], 'p3')
      )[6]?.readUInt32LE(0),
    ).toBe(1);
    const got: string[][] = [];
    await waitFor(() => (got.push(...publishes(sub)), got.length >= 2), { what: 'the two legitimate publishes delivered' });
    expect(got.map((f) => [f[1], (JSON.parse(f[2] ?? '{}') as { sender: string }).sender])).toEqual([
      ['open/news', 'mallory'],
      ['secure/valve', 'pub.secure'],
    ]);
  });
});

describe('agentstop (item 3)', () => {
  it('naming another agent is refused with error 13: the other stays in the peer list and keeps receiving', async () => {
    const victim = await subscriber('stop.victim', 'stop/');
    await mallory.sendVip('', 'agentstop', ['stop.victim'], { id: 's1' });
    expect(text(await mallory.receiveReply('s1', 'error')).slice(5)).toEqual([
      '13',
      'Permission denied: agentstop of another peer is accepted only from control',
      '',
      'agentstop',
    ]);
    const listing = text(await watcher.request('peerlist', ['list'], 'pl1'));
    expect(listing).toContain('stop.victim');
    await mallory.request('pubsub', ['publish', 'stop/x', pubsubBody({ bus: '', headers: {}, message: 1 })], 'sp1');
    await waitFor(() => victim.inbox.drain().some((f) => f[5]?.toString() === 'publish'), { what: 'the victim still receiving' });
    expect((await counters()).counters['agentstop refused']).toBe(1);
  });

  it('a key admitted as the control user may stop another agent; an agent may stop itself', async () => {
    const victim = await subscriber('stop.victim2', 'stop2/');
    const ops = await openRawClient(platform, 'ops.console', { userId: 'control' });
    onTestFinished(() => ops.close());
    await ops.sendVip('', 'agentstop', ['stop.victim2'], { id: 's2' });
    await waitFor(async () => !text(await watcher.request('peerlist', ['list'], `pl.${Date.now()}`)).includes('stop.victim2'), {
      what: 'stop.victim2 dropped by control',
    });
    const self = await subscriber('stop.self', 'stop3/');
    await self.sendVip('', 'agentstop', ['stop.self'], { id: 's3' });
    await waitFor(async () => !text(await watcher.request('peerlist', ['list'], `pl.${Date.now()}`)).includes('stop.self'), {
      what: 'stop.self gone',
    });
    expect(victim.inbox.drain().filter((f) => f[4]?.toString() === 'error')).toEqual([]);
  });
});

describe('reserved service identities (item 4)', () => {
  it('an admitted key without a pin cannot be platform.web (a service identity this platform does not run): no welcome, nothing routed to it, counted', async () => {
    const keys = generateKeyPair();
    await platform.authorize(keys.public, { userId: 'unpinned' });
    const impostor = RawVipClient.connect({ address: platform.tcpAddress, identity: 'platform.web', serverKey: platform.serverkey, keys });
    onTestFinished(() => impostor.close());
    const before = (await counters()).dropped['reserved identity'] ?? 0;
    await impostor.sendVip('', 'hello', ['hello'], { id: 'h-imp' });
    await waitFor(async () => ((await counters()).dropped['reserved identity'] ?? 0) > before, { what: "the impostor's hello dropped" });
    const refused = text(
      await mallory.request('RPC', ['{"jsonrpc": "2.0", "method": "get_platform_health", "id": "g1"}'], 'g1', {
        recipient: 'platform.web',
      }),
    );
    expect(refused.slice(4)).toEqual(['error', '113', 'No route to host', 'platform.web', 'RPC']);
    expect(impostor.inbox.drain()).toEqual([]);
  });

  // platform.web: a reserved identity this platform does not run itself (config.store, used here
  // before, is now the platform's own service)
  it('a key pinned to a service identity (platform.web) in auth.json is welcomed and reached', async () => {
    const web = await openRawClient(platform, 'platform.web', { userId: 'web.service' });
    onTestFinished(() => web.close());
    await mallory.sendVip('platform.web', 'RPC', ['{"jsonrpc": "2.0", "method": "inspect", "id": "g2"}'], { id: 'g2' });
    expect(text(await web.receiveReply('g2', 'RPC')).slice(0, 3)).toEqual(['mallory', 'VIP1', 'mallory']);
  });
});

describe('platform services (item 5)', () => {
  it('control.stats.enable/disable need manage_platform_stats: refused to mallory (the tracker stays off), allowed to a holder', async () => {
    const nosy = await agentWith('stats.nosy');
    await expect(nosy.rpc.call('control', 'stats.enable')).rejects.toBeInstanceOf(UnauthorizedError);
    await expect(nosy.rpc.call('control', 'stats.disable')).rejects.toBeInstanceOf(UnauthorizedError);
    expect(await nosy.rpc.call('control', 'stats.enabled')).toBe(false);
    const operator = await agentWith('stats.operator', { manage_platform_stats: null });
    await operator.rpc.call('control', 'stats.enable');
    expect(await nosy.rpc.call('control', 'stats.enabled')).toBe(true);
    await operator.rpc.call('control', 'stats.disable');
    expect(await nosy.rpc.call('control', 'stats.enabled')).toBe(false);
  });

  it("get_user_to_capabilities answers an agent its own entry and the platform's, a read_user_capabilities holder every user", async () => {
    const plain = await agentWith('caps.plain', { can_plain: null });
    await agentWith('caps.other', { can_other: null });
    const reader = await agentWith('caps.reader', { read_user_capabilities: null });
    const seen = await plain.rpc.call<Record<string, unknown>>('platform.auth', 'get_user_to_capabilities');
    expect(seen['caps.plain']).toEqual({ can_plain: null });
    expect(seen).toHaveProperty('platform.auth');
    expect(seen).toHaveProperty('platform');
    expect(seen).not.toHaveProperty('caps.other');
    expect(seen).not.toHaveProperty('mallory');
    const all = await reader.rpc.call<Record<string, unknown>>('platform.auth', 'get_user_to_capabilities');
    expect(all).toMatchObject({ 'caps.other': { can_other: null }, 'caps.plain': { can_plain: null }, mallory: {} });
  });
});
