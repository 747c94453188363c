import { Agent } from '@vip/agent';
import { ProtectedTopics, PubSubService } from '@vip/pubsub';
import { Router } from '@vip/router';
import { MemoryTransport, waitFor } from '@vip/testing';
import { describe, expect, it, onTestFinished } from 'vitest';
import { PubSubSubsystem, type PubSubCallback } from '@vip/agent';

/** Deadline of every wait (generous: the machine is shared; a miss is still a failure). */
const DEADLINE_MS = 15_000;

/**
 * What a case needs of its agents beyond the defaults; only RabbitMQ broker pubsub differs
 * (ZMQ and the router always give both, their fixtures ignore this).
 */
export interface AgentNeeds {
  /** ZMQ's character prefixes (`in/` matches `in/x`); broker pubsub matches per segment by default. */
  readonly characterPrefixes?: boolean;
  /** Protected topics enforced by the platform: broker pubsub bypasses the router, so these agents publish through it. */
  readonly routerEnforcement?: boolean;
}

/** A platform for the pubsub behaviour suite; one per test. */
export interface PubSubPlatform {
  /** A started agent with the pubsub subsystem, stopped by `close()`. */
  agent(identity: string, needs?: AgentNeeds): Promise<{ agent: Agent; pubsub: PubSubSubsystem }>;
  close(): Promise<void>;
}

export interface PubSubPlatformOptions {
  /** protected_topics.json content. */
  readonly protectedTopics?: unknown;
  /** user id -> capabilities. */
  readonly capabilities?: Readonly<Record<string, readonly string[]>>;
}

export interface PubSubFixture {
  readonly name: string;
  start(options?: PubSubPlatformOptions): Promise<PubSubPlatform>;
}

interface Received {
  sender: string;
  bus: string;
  topic: string;
  message: unknown;
}

function collector(): { cb: PubSubCallback; got: Received[] } {
  const got: Received[] = [];
  return { got, cb: (_peer, sender, bus, topic, _headers, message) => void got.push({ sender, bus, topic, message }) };
}

/** VOLTTRON's pubsub behaviours (docs/protocol.md 11, 13) against one platform kind. */
export function describePubSubBehaviour(fx: PubSubFixture): void {
  describe(`pubsub behaviour: ${fx.name}`, () => {
    const platform = async (options?: PubSubPlatformOptions) => {
      const p = await fx.start(options);
      onTestFinished(() => p.close());
      return p;
    };

    it('prefix granularity: subscribers of t, t/test, t/test/foo get 3/2/1 messages; no match gets none', async () => {
      const p = await platform();
      const [a, b, c, d] = [collector(), collector(), collector(), collector()];
      const { pubsub: sub } = await p.agent('sub');
      await sub.subscribe('t', a.cb);
      await sub.subscribe('t/test', b.cb);
      await sub.subscribe('t/test/foo', c.cb);
      await sub.subscribe('nomatch', d.cb);
      const { pubsub: pub } = await p.agent('pub');
      const counts = [];
      for (const topic of ['t/test/foo', 't/test/bar', 't/x']) counts.push(await pub.publish(topic, { message: topic }));
      await waitFor(() => a.got.length === 3, { timeoutMs: DEADLINE_MS, what: 'three deliveries on t' });
      expect([a.got.length, b.got.length, c.got.length, d.got.length]).toEqual([3, 2, 1, 0]);
      expect(counts).toEqual([1, 1, 1]); // one subscriber peer, delivered once per message
      expect(a.got[0]).toEqual({ sender: 'pub', bus: '', topic: 't/test/foo', message: 't/test/foo' });
    });

    it('unsubscribe stops delivery; unsubscribing an unknown prefix is harmless; (null, null) removes everything', async () => {
      const p = await platform();
      const { pubsub: sub } = await p.agent('sub');
      const { pubsub: pub } = await p.agent('pub');
      const x = collector();
      await sub.subscribe(['a', 'b', 'c'], x.cb);
      await sub.unsubscribe('a', x.cb);
      await sub.unsubscribe('never-subscribed');
      expect(await pub.publish('a/1')).toBe(0);
      expect(await pub.publish('b/1')).toBe(1);
      // the delivery may reach the subscriber after the publisher's ack: wait before dropping the callbacks
      await waitFor(() => x.got.length === 1, { timeoutMs: DEADLINE_MS, what: 'delivery of b/1' });
      await sub.unsubscribe(null, null);
      expect(await pub.publish('c/1')).toBe(0);
      expect(await sub.list({ prefix: '' })).toEqual([]);
      expect(x.got.map((r) => r.topic)).toEqual(['b/1']);
    });

    it('list and reverse list return [bus, prefix, true] rows', async () => {
      const p = await platform();
      const { pubsub } = await p.agent('lister');
      const cb = collector().cb;
      await pubsub.subscribe(['devices', 'devices/ahu', 'other'], cb);
      const rows = await pubsub.list({ prefix: 'devices' });
      expect([...rows].sort()).toEqual([
        ['', 'devices', true],
        ['', 'devices/ahu', true],
      ]);
      const reverse = await pubsub.list({ prefix: 'devices/ahu/1', reverse: true });
      expect([...reverse].sort()).toEqual([
        ['', 'devices', true],
        ['', 'devices/ahu', true],
      ]);
    });

    it('calls one callback per matching prefix (3 overlapping prefixes -> 3 calls; partial unsubscribe -> 2)', async () => {
      const p = await platform();
      const { pubsub: sub } = await p.agent('sub');
      const { pubsub: pub } = await p.agent('pub');
      const x = collector();
      await sub.subscribe(['o', 'o/v', 'o/v/l'], x.cb);
      expect(await pub.publish('o/v/l/1')).toBe(1);
      await waitFor(() => x.got.length === 3, { timeoutMs: DEADLINE_MS });
      await sub.unsubscribe('o/v', x.cb);
      await pub.publish('o/v/l/2');
      await waitFor(() => x.got.length === 5, { timeoutMs: DEADLINE_MS });
    });

    it('publishes from inside a callback (test_pubsub_subsystem.py)', async () => {
      const p = await platform();
      // 'in/' and 'out/' are character prefixes (a trailing '/' is an empty segment on RMQ)
      const { pubsub: relay } = await p.agent('relay', { characterPrefixes: true });
      const { pubsub: pub } = await p.agent('pub', { characterPrefixes: true });
      const out = collector();
      await pub.subscribe('out/', out.cb);
      const failures: unknown[] = [];
      await relay.subscribe('in/', (_peer, _sender, _bus, topic, _headers, message) => {
        relay.publish(`out/${topic.slice(3)}`, { message }).catch((err: unknown) => failures.push(err));
      });
      expect(await pub.publish('in/x', { message: 7 })).toBe(1);
      await waitFor(() => out.got.length === 1, { timeoutMs: DEADLINE_MS });
      expect(out.got[0]).toEqual({ sender: 'relay', bus: '', topic: 'out/x', message: 7 });
      expect(failures).toEqual([]);
    });

    it('keeps buses apart', async () => {
      const p = await platform();
      const { pubsub: sub } = await p.agent('sub');
      const { pubsub: pub } = await p.agent('pub');
      const onBus = collector();
      const onDefault = collector();
      await sub.subscribe('t', onBus.cb, { bus: 'special' });
      await sub.subscribe('t', onDefault.cb);
      expect(await pub.publish('t/1', { bus: 'special', message: 1 })).toBe(1);
      expect(await pub.publish('t/2', { message: 2 })).toBe(1);
      await waitFor(() => onBus.got.length === 1 && onDefault.got.length === 1, { timeoutMs: DEADLINE_MS });
      expect(onBus.got[0]).toMatchObject({ bus: 'special', topic: 't/1' });
      expect(onDefault.got[0]).toMatchObject({ bus: '', topic: 't/2' });
    });

    it('protected topics, plain and regex: refused with error -32001 and not delivered; allowed with the capability', async () => {
      const p = await platform({
        protectedTopics: {
          'write-protect': [
            { topic: 'foo', capabilities: ['can_publish_to_foo'] },
            { topic: '/bar\\/.*/', capabilities: ['can_bar'] },
          ],
        },
        capabilities: { allowed: ['can_publish_to_foo', 'can_bar'], denied: ['other'] },
      });
      const router = { routerEnforcement: true };
      const { pubsub: sub } = await p.agent('sub', router);
      const x = collector();
      await sub.subscribe('', x.cb);
      const { pubsub: denied } = await p.agent('denied', router);
      const refused = await denied.publish('foo/1').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(refused).toMatchObject({ errnum: -32001 });
      // auth.json normalises capabilities to a dict ({'other': None}); a pushed list stays a list
      expect((refused as Error).message).toMatch(
        /^to publish to topic "foo\/1" requires capabilities \['can_publish_to_foo'\], but capability list (\['other'\]|\{'other': None\}) was provided$/,
      );
      await expect(denied.publish('bar/x')).rejects.toMatchObject({ errnum: -32001 });
      expect(await denied.publish('barx')).toBe(1); // regex anchored: 'bar/.*' does not match 'barx'
      const { pubsub: allowed } = await p.agent('allowed', router);
      expect(await allowed.publish('foo')).toBe(1);
      expect(await allowed.publish('bar/y')).toBe(1);
      await waitFor(() => x.got.length === 3, { timeoutMs: DEADLINE_MS });
      expect(x.got.map((r) => `${r.sender}:${r.topic}`)).toEqual(['denied:barx', 'allowed:foo', 'allowed:bar/y']);
    });

    it("drops a stopped agent's subscriptions (agentstop)", async () => {
      const p = await platform();
      const { agent, pubsub: sub } = await p.agent('leaver');
      await sub.subscribe('t', collector().cb);
      const { pubsub: pub } = await p.agent('pub');
      expect(await pub.publish('t')).toBe(1);
      await agent.stop();
      await waitFor(async () => (await pub.publish('t')) === 0, {
        timeoutMs: DEADLINE_MS,
        what: 'subscriptions of the stopped agent dropped',
      });
    });

    it('synchronize restores the subscriptions the router lost', async () => {
      const p = await platform();
      const { pubsub: sub } = await p.agent('sub');
      const { pubsub: other } = await p.agent('other');
      const x = collector();
      await sub.subscribe(['s/1', 's/2'], x.cb, { bus: 'b1' });
      await sub.subscribe('s/3', x.cb);
      // another agent's synchronize cannot touch ours; ours replaces the router's view of us
      await other.synchronize();
      await sub.synchronize();
      const rows = await sub.list({ bus: null });
      expect([...rows].sort()).toEqual([
        ['', 's/3', true],
        ['b1', 's/1', true],
        ['b1', 's/2', true],
      ]);
    });
  });
}

/**
 * A PubSubPlatform from "make an agent (not started)" and "tear the platform down": registers
 * pubsub on each agent, starts it, and stops every agent before the platform on close.
 */
export function agentPlatform(
  create: (identity: string, needs: AgentNeeds) => Promise<Agent> | Agent,
  teardown: () => Promise<void>,
): PubSubPlatform {
  const agents: Agent[] = [];
  return {
    async agent(identity, needs = {}) {
      const agent = await create(identity, needs);
      const pubsub = withPubSub(agent);
      agents.push(agent);
      await agent.start();
      return { agent, pubsub };
    },
    async close() {
      for (const a of agents) await a.close();
      await teardown();
    },
  };
}

/** Register the pubsub subsystem on an agent (until @vip/agent exposes `agent.pubsub`). */
export function withPubSub(agent: Agent): PubSubSubsystem {
  return agent.subsystem<PubSubSubsystem>('pubsub') ?? agent.use((core) => new PubSubSubsystem(core));
}

/** Router + PubSubService over the in-memory transport, agents on MemoryConnections. */
export async function memoryPlatform(options: PubSubPlatformOptions = {}) {
  const topics = options.protectedTopics === undefined ? undefined : ProtectedTopics.parse(options.protectedTopics);
  if (topics !== undefined && !(topics instanceof ProtectedTopics)) throw topics;
  const service = new PubSubService({ protectedTopics: topics, capabilities: options.capabilities });
  const transport = new MemoryTransport();
  const router = new Router({ identity: 'router', transport, extensions: [service] });
  await router.start();
  const platform = agentPlatform(
    (identity) => new Agent({ identity, connection: transport.connection(identity, { userId: identity }) }),
    () => router.stop(),
  );
  return Object.assign(platform, { service });
}
