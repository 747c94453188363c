import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onPlatform, PlatformUnreachableError, type Agent, type RpcCallContext } from '@vip/agent';
import { createRmqAgent } from '@vip/agent/rmq';
import { createZmqAgent } from '@vip/agent/zmq';
import { AuthFile } from '@vip/auth';
import { generateKeyPair } from '@vip/protocol';
import { readAgentRmqFile } from '@vip/rmq';
import { AMQP_URL, FAST_RECONNECT, freePort, MANAGEMENT, startPlatform, waitFor, type PlatformProcess, type TestVhost } from '@vip/testing';
import { RawVipClient } from '@vip/testing';
import { freshVhost, management } from './helpers/broker.js';
import { runVipctl } from './helpers/vipctl.js';
import { Site } from './multi-platform-helpers.js';

/**
 * Issue 12: a ZeroMQ platform (multi-platform, key discovery) linked to a RabbitMQ platform through
 * the RMQ platform's proxy router: the ZeroMQ platform's link arrives at the proxy's ROUTER, proven
 * by its platform key as a link (never a peer), and the RMQ platform's routing_table and
 * external_rpc extensions serve it. RPC both ways between an agent on each.
 */
const pid = process.pid;
const Z = `plz${pid}`;
const R = `plr${pid}`;
const RMQ_AGENT = `rmq.agent${pid}`;
let zmq: Site;
let vh: TestVhost;
let rHome: string;
let rPlatform: PlatformProcess;
let zAgent: Agent;
let rAgent: Agent;
let proxyAddress: string;

async function rmqAgentOnOwnUser(identity: string): Promise<Agent> {
  const made = await runVipctl(['auth', 'add', '--identity', identity, '--vip-home', rHome]);
  if (made.code !== 0) throw new Error(`vipctl auth add: ${made.err}`);
  const file = await readAgentRmqFile(rHome, identity);
  if (!file) throw new Error(`no rmq.json for ${identity}`);
  return createRmqAgent({
    identity,
    rmq: { url: file.url, vhost: file.vhost, instanceName: file.instanceName, reconnect: FAST_RECONNECT },
    management: false,
  });
}

/** A key admitted at the RMQ platform's proxy by auth.json (`identity`: pinned), once the platform has reloaded it. */
async function admitAtProxy(entry: { user_id: string; identity?: string }): Promise<{ public: string; secret: string }> {
  const pair = generateKeyPair();
  const reloaded = rPlatform.waitForLog('auth.reloaded', { timeoutMs: 10_000 });
  await new AuthFile({ path: join(rHome, 'auth.json') }).add({ credentials: pair.public, ...entry, comments: 'impersonation' });
  await reloaded;
  return pair;
}

beforeAll(async () => {
  zmq = await Site.create(Z);
  vh = await freshVhost('plink');
  rHome = await mkdtemp(join(tmpdir(), 'vip-plink-rmq-'));
  const rWeb = `http://127.0.0.1:${await freePort()}`;
  proxyAddress = `tcp://127.0.0.1:${await freePort()}`;
  // key discovery in setup mode both ways: each platform fetches the other's /discovery/
  await zmq.writeJson('external_address.json', [rWeb]);
  await writeFile(join(rHome, 'external_address.json'), JSON.stringify([zmq.webAddress]));
  rPlatform = await startPlatform({
    bus: 'rmq',
    rmq: { vhost: vh.vhost, url: AMQP_URL, managementUrl: MANAGEMENT.baseUrl },
    instanceName: R,
    logLevel: 'info',
    args: [
      '--vip-home',
      rHome,
      '--proxy-router-address',
      proxyAddress,
      '--multi-platform',
      'true',
      '--setup-mode',
      '--bind-web-address',
      rWeb,
    ],
  });
  await zmq.start({ setup: true });
  zAgent = await zmq.agent('zmq.agent', 'zmq.user');
  zAgent.rpc.export('whoami', function (this: RpcCallContext, x: unknown) {
    return { platform: Z, caller: this.caller, user: this.user, x };
  });
  rAgent = await rmqAgentOnOwnUser(RMQ_AGENT);
  rAgent.rpc.export('whoami', function (this: RpcCallContext, x: unknown) {
    return { platform: R, caller: this.caller, user: this.user, x };
  });
  await rAgent.start();
  await Site.waitForLinks(zAgent, [R], 'up', 60_000);
}, 120_000);

afterAll(async () => {
  await rAgent?.close().catch(() => undefined);
  await zmq?.remove();
  await rPlatform?.close();
  for (const u of [`${R}.${RMQ_AGENT}`, `${R}.router`, `${R}.zmq.proxy.router`]) await management.deleteUser(u).catch(() => undefined);
  await vh?.dispose();
  if (rHome) await rm(rHome, { recursive: true, force: true });
}, 60_000);

describe('a ZeroMQ platform linked to a RabbitMQ platform through its proxy router', () => {
  it('RPC from the ZeroMQ agent to the RMQ agent and back', async () => {
    // the RMQ callee sees the caller and its user qualified by the platform its link proved, as on ZeroMQ
    // (the agent's rule for every external caller: a remote platform.auth is not this platform's)
    // (fails before: `router`, the RMQ receivers replaced the router's user header by its broker user;
    // and the ZeroMQ callee saw `<R>.<R>.<agent>`)
    expect(await zAgent.rpc.call(RMQ_AGENT, 'whoami', 'ping', onPlatform(R))).toEqual({
      platform: R,
      caller: `${Z}.zmq.agent`,
      user: `${Z}.zmq.user`,
      x: 'ping',
    });
    expect(await rAgent.rpc.call('zmq.agent', 'whoami', 'pong', onPlatform(Z))).toEqual({
      platform: Z,
      caller: `${R}.${RMQ_AGENT}`,
      user: `${R}.${RMQ_AGENT}`,
      x: 'pong',
    });
  });

  it("the link is the ZeroMQ platform's, proven by its key: not a peer of the RMQ platform", async () => {
    const peers = await rAgent.peerlist.list();
    expect(peers).toContain(RMQ_AGENT);
    expect(peers.some((p) => p.includes(Z))).toBe(false);
    await waitFor(async () => (await Site.stats(zAgent)).platforms?.some((p) => p.instance === R && p.handshake === 'welcome'), {
      timeoutMs: 10_000,
      what: "the RMQ platform's welcome",
    });
  });

  it('all_platforms pubsub flows both ways; local-only subscribers never see the other platform', async () => {
    const atZ: string[] = [];
    const atR: string[] = [];
    const atRLocal: string[] = [];
    await zAgent.pubsub!.subscribe(
      'link/',
      (_p, sender, _b, topic, _h, message) => void atZ.push(`${sender}:${topic}=${String(message)}`),
      {
        allPlatforms: true,
      },
    );
    await rAgent.pubsub!.subscribe(
      'link/',
      (_p, sender, _b, topic, _h, message) => void atR.push(`${sender}:${topic}=${String(message)}`),
      {
        allPlatforms: true,
      },
    );
    await rAgent.pubsub!.subscribe('link/', (_p, _s, _b, topic) => void atRLocal.push(topic));
    let n = 0;
    await waitFor(
      async () => {
        await zAgent.pubsub!.publish('link/from-z', { message: `z${n++}` });
        return atR.some((m) => m.startsWith('zmq.agent:link/from-z=z'));
      },
      { timeoutMs: 20_000, intervalMs: 200, what: "the ZeroMQ platform's publish at the RMQ agent" },
    );
    await waitFor(
      async () => {
        await rAgent.pubsub!.publish('link/from-r', { message: `r${n++}` });
        return atZ.some((m) => m.startsWith(`${RMQ_AGENT}:link/from-r=r`));
      },
      { timeoutMs: 20_000, intervalMs: 200, what: "the RMQ platform's publish at the ZeroMQ agent" },
    );
    // the RMQ agent's local-only subscription has its own platform's publishes, not the relayed ones
    expect(atRLocal).toContain('link/from-r');
    expect(atRLocal).not.toContain('link/from-z');
  });

  it('the ZeroMQ platform sends only what RMQ agents asked for with all_platforms (fails before: every publish relayed in)', async () => {
    const relayedIn = async () => {
      const v = await rAgent.query.query('vip-router-stats');
      const stats = (typeof v === 'string' ? JSON.parse(v) : v) as { proxyLinkPubSub: { relayedIn: number; advertised: number } };
      return stats.proxyLinkPubSub;
    };
    const got: string[] = [];
    await rAgent.pubsub!.subscribe('wanted/', (_p, _s, _b, topic) => void got.push(topic), { allPlatforms: true });
    let n = 0;
    await waitFor(
      async () => {
        await zAgent.pubsub!.publish(`wanted/${n++}`, { message: 'w' });
        return got.length > 0;
      },
      { timeoutMs: 20_000, intervalMs: 200, what: 'the advertised prefix in use on the ZeroMQ platform' },
    );
    // the relay counts a publish once the broker confirmed it, which may be after its delivery: read settled counts
    const settled = async (above: number) => {
      let last = await relayedIn();
      await waitFor(
        async () => {
          const now = await relayedIn();
          const steady = now.relayedIn === last.relayedIn && now.relayedIn > above;
          last = now;
          return steady;
        },
        { timeoutMs: 10_000, intervalMs: 500, what: 'the relay count settled' },
      );
      return last;
    };
    const before = await settled(-1);
    for (let i = 0; i < 5; i++) await zAgent.pubsub!.publish(`unwanted/${i}`, { message: 'u' });
    await zAgent.pubsub!.publish('wanted/last', { message: 'w' });
    await waitFor(() => got.includes('wanted/last'), { timeoutMs: 10_000, what: 'the last wanted publish' });
    const after = await settled(before.relayedIn);
    expect(after.relayedIn).toBe(before.relayedIn + 1);
    expect(after.advertised).toBeGreaterThan(0);
  });

  it("a ZeroMQ agent at the proxy whose auth.json entry names a link's user is never admitted (links: by platform key only)", async () => {
    const pair = await admitAtProxy({ user_id: `platform.link/${Z}`, identity: 'fake.link' });
    const fake = await createZmqAgent({
      identity: 'fake.link',
      address: proxyAddress,
      serverKey: rPlatform.serverkey ?? '',
      publicKey: pair.public,
      secretKey: pair.secret,
      vipHome: rHome,
      helloTimeoutMs: 1_500,
      reconnectIntervalMs: 100,
    });
    await expect(fake.start()).rejects.toThrow();
    await fake.close();
    // the real link is untouched
    expect(await zAgent.rpc.call(RMQ_AGENT, 'whoami', 'still', onPlatform(R))).toMatchObject({ x: 'still' });
  });

  it("the RMQ platform's protected topics hold for relayed publishes, per remote publisher (fails before: relayed unchecked)", async () => {
    const got: string[] = [];
    await rAgent.pubsub!.subscribe('guarded/', (_p, _s, _b, topic) => void got.push(topic), { allPlatforms: true });
    const synced = rPlatform.waitForLog('rmq.topic-permissions.synced', { timeoutMs: 15_000 });
    await writeFile(
      join(rHome, 'protected_topics.json'),
      JSON.stringify({ 'write-protect': [{ topic: 'guarded/secure', capabilities: ['can_secure'] }] }),
    );
    await synced;
    let n = 0;
    await waitFor(
      async () => {
        await zAgent.pubsub!.publish('guarded/secure/x', { message: n });
        await zAgent.pubsub!.publish('guarded/open/x', { message: n++ });
        return got.includes('guarded/open/x');
      },
      { timeoutMs: 20_000, intervalMs: 200, what: 'the open topic relayed' },
    );
    await zAgent.pubsub!.publish('guarded/open/y', { message: 'last' });
    await waitFor(() => got.includes('guarded/open/y'), { timeoutMs: 10_000, what: 'the last open publish' });
    expect(got).not.toContain('guarded/secure/x');
    // the capability granted to the remote publisher (its user qualified by its platform): delivered
    const reloaded = rPlatform.waitForLog('auth.reloaded', { timeoutMs: 10_000 });
    await new AuthFile({ path: join(rHome, 'auth.json') }).add({
      credentials: generateKeyPair().public,
      user_id: `${Z}.zmq.user`,
      capabilities: { can_secure: null },
      comments: 'remote publisher',
    });
    await reloaded;
    await waitFor(
      async () => {
        await zAgent.pubsub!.publish('guarded/secure/granted', { message: 'ok' });
        return got.includes('guarded/secure/granted');
      },
      { timeoutMs: 20_000, intervalMs: 300, what: 'the granted publish relayed' },
    );
  });

  it('a ZeroMQ agent at the proxy is no link: link operations refused (13), its external call names this platform and its proven user, never the ones it wrote', async () => {
    const pair = await admitAtProxy({ user_id: 'zmq.liar.user', identity: 'zmq.liar' });
    const notes: string[] = [];
    rAgent.rpc.export('note', function (this: RpcCallContext, x: string) {
      notes.push(`${this.caller}|${this.user}|${x}`);
    });
    const liar = RawVipClient.connect({ address: proxyAddress, identity: 'zmq.liar', serverKey: rPlatform.serverkey ?? '', keys: pair });
    try {
      await liar.hello({ timeoutMs: 10_000 });
      const call = (method: string, params: unknown[], id: string) => JSON.stringify({ jsonrpc: '2.0', method, params, id });
      // as if it were the ZeroMQ platform's link: a routing_table hello, a send_peer naming that platform
      const hello = await liar.request('routing_table', ['hello', 'hello', Z], 'rt.1', { timeoutMs: 10_000 });
      expect([hello[4]!.toString(), hello[5]!.toString()]).toEqual(['error', '13']);
      const forged = { to_platform: R, to_peer: RMQ_AGENT, from_platform: Z, from_peer: 'zmq.agent', args: [call('note', ['as Z'], 'n1')] };
      const sendPeer = await liar.request('external_rpc', ['send_peer', JSON.stringify(forged)], 'rpc.1', { timeoutMs: 10_000 });
      expect([sendPeer[4]!.toString(), sendPeer[5]!.toString()]).toEqual(['error', '13']);
      // its own external call, writing another platform and peer as the caller: the callee sees this platform's qualified proven user
      const out = {
        to_platform: Z,
        to_peer: 'zmq.agent',
        from_platform: 'elsewhere',
        from_peer: 'control',
        args: [call('whoami', ['hi'], 'w1')],
      };
      await liar.sendVip('', 'external_rpc', ['send_platform', JSON.stringify(out)], { id: 'rpc.2', user: `${Z}.zmq.user` });
      const answer = await liar.receiveMatching((f) => f[4]?.toString() === 'external_rpc', { timeoutMs: 15_000 });
      const reply = JSON.parse(answer[6]!.toString()) as { from_platform: string; args: string[] };
      expect(reply.from_platform).toBe(Z);
      expect(JSON.parse(reply.args[0]!)).toMatchObject({ result: { caller: `${R}.zmq.liar`, user: `${R}.zmq.liar.user`, x: 'hi' } });
      expect(notes).toEqual([]);
    } finally {
      await liar.close();
    }
  });

  it("publishes relayed out carry the publisher's proven user, never its identity: a ZeroMQ peer at the proxy named like a privileged user gets no capability on the other platform (fails before: delivered)", async () => {
    const got: string[] = [];
    await zAgent.pubsub!.subscribe('zguard/', (_p, sender, _b, topic) => void got.push(`${sender}:${topic}`), { allPlatforms: true });
    const loaded = zmq.platform!.waitForLog('pubsub.config.loaded', { timeoutMs: 10_000 });
    await zmq.writeJson('protected_topics.json', { 'write-protect': [{ topic: 'zguard/', capabilities: ['can_zguard'] }] });
    await loaded;
    // the ZeroMQ platform grants the capability to two users of the RMQ platform: `admin` and the RMQ agent's
    for (const user of ['admin', RMQ_AGENT])
      await zmq.addAuth({ credentials: generateKeyPair().public, user_id: `${R}.${user}`, capabilities: { can_zguard: null } });
    let n = 0;
    await waitFor(
      async () => {
        await rAgent.pubsub!.publish(`zguard/ok${n++}`, { message: 'granted' });
        return got.some((m) => m.startsWith(`${RMQ_AGENT}:zguard/ok`));
      },
      { timeoutMs: 20_000, intervalMs: 300, what: "the RMQ agent's protected publish at the ZeroMQ platform" },
    );
    // an unpinned key at the proxy, user zmq.nobody, taking the identity `admin`
    const pair = await admitAtProxy({ user_id: 'zmq.nobody' });
    const fake = RawVipClient.connect({ address: proxyAddress, identity: 'admin', serverKey: rPlatform.serverkey ?? '', keys: pair });
    try {
      await fake.hello({ timeoutMs: 10_000 });
      const body = JSON.stringify({ bus: '', headers: {}, message: 'as admin' });
      const ack = await fake.request('pubsub', ['publish', 'zguard/forged', body], 'pub.1', { timeoutMs: 10_000 });
      expect(ack[5]!.toString()).toBe('request_response');
    } finally {
      await fake.close();
    }
    await rAgent.pubsub!.publish('zguard/last', { message: 'granted' });
    await waitFor(() => got.includes(`${RMQ_AGENT}:zguard/last`), { timeoutMs: 10_000, what: 'the last granted publish' });
    expect(got.filter((m) => m.includes('zguard/forged'))).toEqual([]);
  });

  it('the ZeroMQ platform stopped: a call to it fails at once; restarted: the link is back', async () => {
    await zmq.stop();
    await waitFor(
      async () => {
        const err = await rAgent.rpc.call('zmq.agent', 'whoami', 'late', onPlatform(Z)).catch((e: unknown) => e);
        return err instanceof PlatformUnreachableError;
      },
      { timeoutMs: 20_000, intervalMs: 200, what: 'a call to the stopped platform failing fast' },
    );
    // restarted (normal mode, from its discovery file): the link comes back by itself
    await zmq.start();
    zAgent = await zmq.agent('zmq.agent', 'zmq.user');
    zAgent.rpc.export('whoami', (x: unknown) => ({ platform: Z, x }));
    await waitFor(
      async () => {
        const r = await rAgent.rpc.call('zmq.agent', 'whoami', 'again', onPlatform(Z)).catch((e: unknown) => e);
        return (r as { x?: unknown }).x === 'again';
      },
      { timeoutMs: 30_000, intervalMs: 300, what: 'a call to the restarted platform' },
    );
  });
});
