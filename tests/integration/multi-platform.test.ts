import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onPlatform, PlatformUnreachableError, type Agent } from '@vip/agent';
import { generateKeyPair, isVipError } from '@vip/protocol';
import { createZmqAgent } from '@vip/agent/zmq';
import { waitFor } from '@vip/testing';
import { linkThroughDiscovery, Site, vipctl } from './multi-platform-helpers.js';

/**
 * Issue 15: three platforms as processes on loopback, each with its own home and keys, linked
 * through key discovery (setup mode once, then normal mode): external RPC both ways, all_platforms
 * pubsub across all three, protected topics enforced by the receiving platform, and platform B
 * killed (SIGKILL) and restarted mid-traffic.
 */
const NAMES = ['mpA', 'mpB', 'mpC'] as const;
let A: Site;
let B: Site;
let C: Site;
let sites: Site[];
/** One agent per platform: serves `echo`, subscribes `multi/` on all platforms, calls and publishes. */
const agents = new Map<string, Agent>();
const received = new Map<string, string[]>();

async function startAgents(site: Site): Promise<Agent> {
  const agent = await site.agent(`agent.${site.name}`, `user.${site.name}`);
  agent.rpc.export('echo', (x: unknown) => ({ from: site.name, x }), { params: ['x'] });
  const got = received.get(site.name) ?? [];
  received.set(site.name, got);
  await agent.pubsub!.subscribe(
    'multi/',
    (_peer, _sender, _bus, topic, _headers, message) => void got.push(`${topic}=${String(message)}`),
    { allPlatforms: true },
  );
  agents.set(site.name, agent);
  return agent;
}

const agentOf = (name: string): Agent => agents.get(name) as Agent;

/** Publish `topic` from `from` until every other site has it (advertisements travel after links come up). */
async function publishUntilSeen(from: string, topic: string, at: readonly string[]): Promise<void> {
  let n = 0;
  await waitFor(
    async () => {
      const message = `${from}-${n++}`;
      await agentOf(from).pubsub!.publish(topic, { message });
      await new Promise((r) => setTimeout(r, 100));
      return at.every((s) => (received.get(s) ?? []).some((m) => m.startsWith(`${topic}=${from}-`)));
    },
    { timeoutMs: 30_000, intervalMs: 50, what: `${topic} from ${from} reaching ${at.join(', ')}` },
  );
}

beforeAll(async () => {
  [A, B, C] = (await Promise.all(NAMES.map((n) => Site.create(n)))) as [Site, Site, Site];
  sites = [A, B, C];
  await linkThroughDiscovery(sites);
  for (const s of sites) await startAgents(s);
  for (const s of sites)
    await Site.waitForLinks(
      agentOf(s.name),
      NAMES.filter((n) => n !== s.name),
    );
}, 150_000);

afterAll(async () => {
  await Promise.all((sites ?? []).map((s) => s.remove()));
}, 60_000);

describe('three linked platforms', () => {
  it('links every pair through discovery, with the vip hello/welcome handshake', async () => {
    for (const s of sites) {
      const stats = await Site.stats(agentOf(s.name));
      const others = NAMES.filter((n) => n !== s.name);
      expect(stats.platforms?.map((p) => p.instance).sort()).toEqual(others);
      await waitFor(async () => (await Site.stats(agentOf(s.name))).platforms?.every((p) => p.handshake === 'welcome'), {
        timeoutMs: 10_000,
        what: 'welcome from every link',
      });
    }
  });

  it("an auth.json entry naming itself a link's user is never admitted (links are proven by their platform key only)", async () => {
    const pair = generateKeyPair();
    await A.addAuth({ credentials: pair.public, user_id: 'platform.link/mpB', identity: 'fake.link', comments: 'impersonation' });
    const refused = await createZmqAgent({
      identity: 'fake.link',
      address: A.vipAddress,
      serverKey: A.platform!.serverkey ?? '',
      publicKey: pair.public,
      secretKey: pair.secret,
      vipHome: A.home,
      helloTimeoutMs: 1_500,
      reconnectIntervalMs: 100,
    });
    await expect(refused.start()).rejects.toThrow();
    await refused.close();
  });

  it('RPC from A to C and back from C to A', async () => {
    expect(await agentOf('mpA').rpc.call('agent.mpC', 'echo', 'ping', onPlatform('mpC'))).toEqual({ from: 'mpC', x: 'ping' });
    expect(await agentOf('mpC').rpc.call('agent.mpA', 'echo', 'pong', onPlatform('mpA'))).toEqual({ from: 'mpA', x: 'pong' });
    expect(await agentOf('mpB').rpc.request('agent.mpA', 'echo', { args: [1], externalPlatform: 'mpA' })).toEqual({ from: 'mpA', x: 1 });
    // a notification: no answer, delivered
    const notes: unknown[] = [];
    agentOf('mpC').rpc.export('note', (x: unknown) => void notes.push(x), { params: ['x'] });
    await agentOf('mpA').rpc.notify('agent.mpC', 'note', 'n1', onPlatform('mpC'));
    await waitFor(() => notes.includes('n1'), { timeoutMs: 10_000, what: 'the notification on C' });
    // the callee sees the caller and its user qualified by their platform
    agentOf('mpC').rpc.export('who', function (this: { user: string; caller: string }) {
      return [this.caller, this.user];
    });
    expect(await agentOf('mpA').rpc.call('agent.mpC', 'who', onPlatform('mpC'))).toEqual(['mpA.agent.mpA', 'mpA.user.mpA']);
  });

  it('an unknown platform, or a peer missing on the remote one, fails at once with a typed error', async () => {
    const unknown = await agentOf('mpA')
      .rpc.call('agent.mpC', 'echo', 1, onPlatform('nowhere'))
      .catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(PlatformUnreachableError);
    expect((unknown as PlatformUnreachableError).reason).toBe('unknown');
    const missing = await agentOf('mpA')
      .rpc.call('no.such.peer', 'echo', 1, onPlatform('mpC'))
      .catch((e: unknown) => e);
    expect(isVipError(missing, 'VIP_UNREACHABLE')).toBe(true);
  });

  it('all_platforms pubsub reaches every platform, both ways', async () => {
    await publishUntilSeen('mpA', 'multi/a', ['mpA', 'mpB', 'mpC']);
    await publishUntilSeen('mpC', 'multi/c', ['mpA', 'mpB', 'mpC']);
    await publishUntilSeen('mpB', 'multi/b', ['mpA', 'mpC']);
    // every platform subscribed: a publish counts the local subscriber and the two remote platforms
    expect(await agentOf('mpA').pubsub!.publish('multi/count', { message: 'x' })).toBe(3);
  });

  it("protected topics are enforced by the receiving platform, for the publisher's user qualified by its platform", async () => {
    const reloaded = C.platform!.waitForLog('pubsub.config.loaded', { timeoutMs: 10_000 });
    await C.writeJson('protected_topics.json', { 'write-protect': [{ topic: 'multi/secure', capabilities: ['can_secure'] }] });
    await reloaded;
    const before = (await Site.stats(agentOf('mpC'))).router.extensions.pubsub?.['rejected.unauthorized'] ?? 0;
    await agentOf('mpA').pubsub!.publish('multi/secure/1', { message: 'refused' });
    await waitFor(async () => ((await Site.stats(agentOf('mpC'))).router.extensions.pubsub?.['rejected.unauthorized'] ?? 0) > before, {
      timeoutMs: 10_000,
      what: 'C refusing the protected publish',
    });
    expect(received.get('mpC')).not.toContain('multi/secure/1=refused');
    // B has no protection: it got it
    await waitFor(() => received.get('mpB')?.includes('multi/secure/1=refused'), { timeoutMs: 10_000, what: 'B receiving the publish' });
    // C grants the capability to A's publisher (user.mpA on mpA): then it is delivered
    await C.addAuth({
      credentials: generateKeyPair().public,
      user_id: 'mpA.user.mpA',
      capabilities: { can_secure: null },
      comments: 'remote publisher',
    });
    await waitFor(
      async () => {
        await agentOf('mpA').pubsub!.publish('multi/secure/2', { message: 'allowed' });
        await new Promise((r) => setTimeout(r, 100));
        return received.get('mpC')?.includes('multi/secure/2=allowed');
      },
      { timeoutMs: 15_000, what: 'C delivering the publish once the capability is granted' },
    );
  });

  it('operators: vipctl platforms (--json), vipctl rpc --platform, vipctl publish reaching all_platforms subscribers', async () => {
    const listed = JSON.parse((await vipctl(A, 'platforms', '--json')).stdout) as Array<{ instance: string; state: string; since: number }>;
    expect(listed.map((l) => [l.instance, l.state]).sort()).toEqual([
      ['mpB', 'CONNECTED'],
      ['mpC', 'CONNECTED'],
    ]);
    expect(listed.every((l) => l.since > 0)).toBe(true);
    expect((await vipctl(A, 'platforms')).stdout).toMatch(/^instance\s+state\s+since/);
    expect(JSON.parse((await vipctl(A, 'rpc', '--json', '--platform', 'mpC', 'agent.mpC', 'echo', '"cli"')).stdout)).toEqual({
      from: 'mpC',
      x: 'cli',
    });
    const unknown = await vipctl(A, 'rpc', '--platform', 'nowhere', 'agent.mpC', 'echo', '1');
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/nowhere/);
    expect((await vipctl(A, 'publish', 'multi/vipctl', '"from vipctl"')).code).toBe(0);
    await waitFor(() => ['mpB', 'mpC'].every((s) => received.get(s)?.includes('multi/vipctl=from vipctl')), {
      timeoutMs: 10_000,
      what: 'vipctl publish on other platforms',
    });
  });

  it('B killed and restarted mid-traffic: calls fail fast while down, publishes counted, then everything works again', async () => {
    const a = agentOf('mpA');
    expect(await a.rpc.call('agent.mpB', 'echo', 'before', onPlatform('mpB'))).toEqual({ from: 'mpB', x: 'before' });
    // traffic in flight when B dies: calls and publishes from A and C
    const inflight: Promise<unknown>[] = [];
    for (let i = 0; i < 5; i++) {
      inflight.push(a.rpc.call('agent.mpB', 'echo', i, onPlatform('mpB')).catch((e: unknown) => e));
      inflight.push(a.pubsub!.publish('multi/during', { message: String(i) }).catch((e: unknown) => e));
    }
    await B.kill9();
    await Site.waitForLinks(a, ['mpB'], 'down', 20_000);
    await Site.waitForLinks(agentOf('mpC'), ['mpB'], 'down', 20_000);
    const settled = await Promise.all(inflight);
    expect(settled).toHaveLength(10); // none hangs: each settled (result, or error)

    // while B is down: every call settles with an error at once; every publish is counted undeliverable for B
    const calls = await Promise.all([0, 1, 2].map((i) => a.rpc.call('agent.mpB', 'echo', i, onPlatform('mpB')).catch((e: unknown) => e)));
    for (const e of calls) expect(e).toBeInstanceOf(PlatformUnreachableError);
    const undeliverable = async () => (await Site.stats(a)).router.extensions.pubsub?.['remote_undeliverable.mpB'] ?? 0;
    const before = await undeliverable();
    for (let i = 0; i < 4; i++) expect(await a.pubsub!.publish('multi/down', { message: String(i) })).toBe(2); // A's own + C
    expect(await undeliverable()).toBe(before + 4);

    // B back (same home, keys, address): links come up again without touching A or C
    // B's agent reconnects by itself (same key, same address) and subscribes again
    await B.start();
    const b = agentOf('mpB');
    await Site.waitForLinks(a, ['mpB'], 'up', 30_000).catch((e: unknown) => {
      console.log('B', B.platform?.stderrTail(80), '\nA', A.platform?.stderrTail(40));
      throw e;
    });
    await Site.waitForLinks(b, ['mpA', 'mpC'], 'up', 30_000);
    expect(await a.rpc.call('agent.mpB', 'echo', 'after', onPlatform('mpB'))).toEqual({ from: 'mpB', x: 'after' });
    expect(await b.rpc.call('agent.mpC', 'echo', 'after', onPlatform('mpC'))).toEqual({ from: 'mpC', x: 'after' });
    // subscriptions through B: A's and C's re-advertised to B, B's advertised to them
    await publishUntilSeen('mpA', 'multi/again-a', ['mpB', 'mpC']);
    await publishUntilSeen('mpB', 'multi/again-b', ['mpA', 'mpC']);
  }, 150_000);
});
