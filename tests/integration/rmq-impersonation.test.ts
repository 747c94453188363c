import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { z } from 'zod';
import type { Agent, RpcCallContext } from '@vip/agent';
import { createRmqAgent } from '@vip/agent/rmq';
import { RmqPubSub, type PubSubDelivery } from '@vip/rmq/pubsub';
import { AMQP_URL, FAST_RECONNECT, Inbox } from '@vip/testing';
import { management } from './helpers/broker.js';
import { generateKeyPair } from '@vip/protocol';
import { waitFor } from '@vip/testing';
import { readAgentRmqFile } from '@vip/rmq';
import { startAgentUserPlatform, type AgentUserPlatform } from './rmq-agent-user-platform.js';
import { rawClientAs, rpcReply, rpcRequest, sendVip, type Claim } from './rmq-raw-client.js';

/**
 * Issue 10, items 6 and 7: on a platform with per-agent broker users (the default), an admitted
 * agent that leaves AMQP user_id out cannot become another: not for a capability check, not as
 * `platform.auth` pushing capabilities (auth.update), not as `control` (agentstop, quit), not on a
 * protected topic of the router's pubsub. The attacker is a raw amqplib client logged in as agent
 * user A (what `vipctl auth add --identity` made), writing messages as pika does but claiming
 * others. VOLTTRON Python agents (no user_id ever) keep working where the platform names them
 * legacy peers (`--rmq-legacy-peers`), as themselves only.
 */
const pid = process.pid;
const INSTANCE = `imp${pid}`;
const A = `a${pid}`;
const VICTIM = `victim${pid}`;
const CAPABLE = `capable${pid}`;
const userOf = (identity: string) => `${INSTANCE}.${identity}`;
let p: AgentUserPlatform;

const StatsSchema = z.object({
  transport: z.looseObject({ spoofed: z.number(), unproven: z.number().default(0), legacy: z.number().default(0) }),
  router: z.looseObject({ counters: z.record(z.string(), z.number()) }),
});
/** The transport's counters, with the router's `agentstop refused` (who may stop whom is the router's rule). */
async function transportStats(
  platform: AgentUserPlatform,
): Promise<z.infer<typeof StatsSchema>['transport'] & { agentstopRefused: number }> {
  const v = await platform.watcher.query.query('vip-router-stats');
  const s = StatsSchema.parse(typeof v === 'string' ? JSON.parse(v) : v);
  return { ...s.transport, agentstopRefused: s.router.counters['agentstop refused'] ?? 0 };
}

/** An agent of `@vip/agent/rmq` on `identity`'s own broker user, with more options. */
async function ownUserAgent(
  platform: AgentUserPlatform,
  identity: string,
  more: Partial<Parameters<typeof createRmqAgent>[0]> = {},
  rmq: Record<string, unknown> = {},
): Promise<Agent> {
  const file = await readAgentRmqFile(platform.platform.home, identity);
  if (!file) throw new Error(`no rmq.json for ${identity}`);
  const agent = createRmqAgent({
    identity,
    management: false,
    ...more,
    rmq: { url: file.url, vhost: file.vhost, instanceName: file.instanceName, reconnect: FAST_RECONNECT, ...rmq },
  });
  onTestFinished(() => agent.close());
  await agent.start();
  return agent;
}

beforeAll(async () => {
  p = await startAgentUserPlatform('impersonation', INSTANCE);
  const attacker = await p.vipctl('auth', 'add', '--identity', A);
  if (attacker.code !== 0) throw new Error(`vipctl auth add: ${attacker.err}`);
  // the victim serves capability-protected methods, so it must see its callers' capabilities
  // (under the default --capability-map-access restricted: platform README)
  const victim = await p.vipctl('auth', 'add', '--identity', VICTIM, '--capabilities', '{"read_user_capabilities": null}');
  if (victim.code !== 0) throw new Error(`vipctl auth add: ${victim.err}`);
  const add = await p.vipctl('auth', 'add', '--identity', CAPABLE, '--capabilities', '{"can_publish": null}');
  if (add.code !== 0) throw new Error(`vipctl auth add: ${add.err}`);
}, 60_000);
afterAll(async () => {
  await p?.dispose([A, VICTIM, CAPABLE, 'control'].map(userOf));
});

describe('a per-agent user without user_id claiming another user or a platform identity', () => {
  it("auth.update claiming platform.auth is ignored: the victim keeps the platform's capabilities; the real platform.auth still updates them", async () => {
    const victim = await ownUserAgent(p, VICTIM);
    victim.rpc.export('secret', () => 'secret', { allow: 'can_secret' });
    const attacker = await ownUserAgent(p, A);
    await expect(attacker.rpc.call(VICTIM, 'secret')).rejects.toThrow(/requires capabilities {'can_secret'}/); // the map from platform.auth

    const { ch } = await rawClientAs(p.platform.home, A, false);
    const planted = { [A]: { can_secret: null } };
    const asAuth: Claim = { appId: userOf('platform.auth'), user: userOf('platform.auth') };
    sendVip(ch, INSTANCE, VICTIM, 'RPC', rpcRequest('auth.update', 'u1', [planted]), 'u1', asAuth);
    // RabbitMQ keeps a channel's order into one queue: once this proven ping is answered, the victim handled the update
    const pinged = await attacker.ping.ping(VICTIM, ['after']);
    expect(pinged).toEqual(['after']);
    await expect(attacker.rpc.call(VICTIM, 'secret')).rejects.toThrow(/requires capabilities {'can_secret'}/);
    expect(victim.transportStats()!.spoofed).toBeGreaterThanOrEqual(1);

    // the real platform.auth (proven by the platform's user_id) pushes an auth.json change: accepted
    const removed = await p.vipctl('auth', 'remove', A); // A's entry only; its broker user stays
    expect(removed.code, removed.err).toBe(0);
    await p.platform.authorize(generateKeyPair().public, { userId: A, capabilities: ['can_secret'] });
    await waitFor(async () => (await attacker.rpc.call(VICTIM, 'secret').catch(() => undefined)) === 'secret', {
      timeoutMs: 10_000,
      what: "the victim taking platform.auth's pushed map",
    });
  });

  it('platform identities: an unproven control is refused by agents and the router (no agentstop of another agent); vipctl will not make such a user', async () => {
    const callee = await ownUserAgent(p, VICTIM);
    const callers: string[] = [];
    callee.rpc.export('whoami', function (this: RpcCallContext) {
      callers.push(this.caller);
      return this.caller;
    });
    const attacker = await ownUserAgent(p, A);
    const { ch } = await rawClientAs(p.platform.home, A, false);
    const spoofedBefore = callee.transportStats()!.spoofed ?? 0;
    for (const identity of ['control', 'platform.auth', 'platform.health', 'router', 'control.connection.1234']) {
      sendVip(ch, INSTANCE, VICTIM, 'RPC', rpcRequest('whoami', `c-${identity}`), `c-${identity}`, {
        appId: userOf(identity),
        user: userOf(identity),
      });
    }
    expect(await attacker.rpc.call(VICTIM, 'whoami')).toBe(A); // after the five in the victim's queue
    expect(callers).toEqual([A]);
    expect(callee.transportStats()!.spoofed).toBe(spoofedBefore + 5);

    const routerBefore = await transportStats(p);
    const peers = () => p.watcher.peerlist.list();
    await waitFor(async () => (await peers()).includes(VICTIM), { what: 'the victim in the peerlist' });
    sendVip(ch, INSTANCE, 'router', 'agentstop', [VICTIM], 'stop-c', { appId: userOf('control'), user: userOf('control') });
    await waitFor(async () => (await transportStats(p)).spoofed === routerBefore.spoofed + 1, {
      what: 'the unproven control refused by the router',
    });
    expect(await peers()).toContain(VICTIM);
    expect(await attacker.rpc.call(VICTIM, 'whoami')).toBe(A);

    const add = await p.vipctl('auth', 'add', '--identity', 'control');
    expect(add.code).toBe(2);
    expect(add.err).toMatch(/"control" is the platform's own identity/);
    expect(await management.getUser(userOf('control'))).toBeUndefined();
  });

  it("broker pubsub: a publish claiming platform.auth without the platform's user_id is refused by a receiver requiring proofs", async () => {
    const sub = new RmqPubSub({
      url: AMQP_URL,
      vhost: p.vh.vhost,
      instanceName: INSTANCE,
      identity: 'sub',
      reconnect: FAST_RECONNECT,
      senderProof: 'required',
    });
    onTestFinished(() => sub.close());
    await sub.open();
    const got = new Inbox<PubSubDelivery>();
    await sub.subscribe('imp', got.push);
    await ownUserAgent(p, A); // its hello has the platform set A's topic permission (pubsub writes)
    const { ch } = await rawClientAs(p.platform.home, A, false);
    const publish = (appId: string, sender: string, n: number) =>
      ch.publish(
        'volttron',
        `__pubsub__.${INSTANCE}.imp.${n}.#`,
        Buffer.from(JSON.stringify({ sender, bus: '', headers: {}, message: n })),
        {
          appId,
          type: 'pubsub',
          contentType: 'application/json',
          headers: { recipient: '', proto: 'VIP', user: sender },
        },
      );
    publish(userOf('platform.auth'), 'platform.auth', 1);
    publish(userOf(A), 'control', 2);
    publish(userOf(A), A, 3);
    expect(await got.next(undefined, 5_000, "A's unproven but harmless publish")).toMatchObject({ sender: A, message: 3 });
    await waitFor(() => sub.stats().spoofed === 2, { what: 'both platform claims refused' });
    expect(got.items).toHaveLength(1);
  });

  it("the router's pubsub: a protected-topic publish with a capable user in the header but no user_id is refused", async () => {
    const loaded = p.platform.waitForLog('pubsub.config.loaded', { timeoutMs: 10_000 });
    await writeFile(
      join(p.platform.home, 'protected_topics.json'),
      JSON.stringify({ 'write-protect': [{ topic: 'imp/protected', capabilities: ['can_publish'] }] }),
    );
    await loaded;
    const capable = await ownUserAgent(p, CAPABLE, { pubsubVia: 'router' });
    expect(await capable.pubsub!.publish('imp/protected/1', { message: 1 })).toBeGreaterThanOrEqual(0);
    // A without user_id, claiming the capable user in the header (VOLTTRON believes it)
    const forger = await ownUserAgent(p, A, { pubsubVia: 'router' }, { brokerUser: false, user: userOf(CAPABLE) });
    await expect(forger.pubsub!.publish('imp/protected/2', { message: 2 })).rejects.toThrow(/not authorized|unauthorized|capabilit/i);
    expect(await forger.pubsub!.publish('imp/open/1', { message: 3 })).toBeGreaterThanOrEqual(0);
  });

  it('quit claiming control without user_id does not stop the platform', async () => {
    const before = await transportStats(p);
    const { ch } = await rawClientAs(p.platform.home, A, false);
    sendVip(ch, INSTANCE, 'router', 'quit', [], 'quit1', { appId: userOf('control'), user: userOf('control') });
    await waitFor(async () => (await transportStats(p)).spoofed === before.spoofed + 1, { what: 'the unproven quit refused' });
    expect(await p.watcher.ping.ping('', ['alive'])).toEqual(['alive']);
    expect(await Promise.race([p.platform.exited.then(() => 'exited'), Promise.resolve('running')])).toBe('running');
  });
});

describe('legacy peers (--rmq-legacy-peers): VOLTTRON Python agents without user_id, as themselves only', () => {
  const LI = `impl${pid}`;
  const PY = `py${pid}`;
  const OTHER = `other${pid}`;
  const PRIVILEGED = `p${pid}`;
  const luser = (identity: string) => `${LI}.${identity}`;
  let lp: AgentUserPlatform;
  let callee: Agent;

  beforeAll(async () => {
    lp = await startAgentUserPlatform('legacy-peers', LI, ['--rmq-legacy-peers', PY]);
    for (const id of [PY, OTHER, 'callee']) {
      const add = await lp.vipctl('auth', 'add', '--identity', id);
      if (add.code !== 0) throw new Error(`vipctl auth add: ${add.err}`);
    }
    const file = await readAgentRmqFile(lp.platform.home, 'callee');
    // the platform's legacy list, given to this agent too (it receives Python agents' calls itself)
    callee = createRmqAgent({
      identity: 'callee',
      management: false,
      rmq: { url: file!.url, vhost: file!.vhost, instanceName: LI, reconnect: FAST_RECONNECT, legacyPeers: [PY] },
      rpc: { capabilities: { [PY]: { can_py: null }, [PRIVILEGED]: { can_py: null, can_p: null } } },
    });
    callee.rpc.export('whoami', function (this: RpcCallContext) {
      return { caller: this.caller, user: this.user };
    });
    callee.rpc.export('for_py', () => 'py-ok', { allow: 'can_py' });
    callee.rpc.export('for_p', () => 'p-ok', { allow: 'can_p' });
    await callee.start();
  }, 60_000);
  afterAll(async () => {
    await callee?.close();
    await lp?.dispose([PY, OTHER, 'callee'].map(luser));
  });

  it("a Python-style peer is welcomed, calls with its own capabilities (never the header's), stops itself but no one else", async () => {
    const { ch, inbox } = await rawClientAs(lp.platform.home, PY, true);
    const asPy: Claim = { appId: luser(PY), user: luser(PY) };
    const before = await transportStats(lp);
    sendVip(ch, LI, 'router', 'hello', ['hello'], 'h1', asPy);
    const welcome = await inbox.next((m) => m.properties.messageId === 'h1', 5_000, 'the welcome');
    expect(JSON.parse(welcome.content.toString('utf8'))).toEqual(['welcome', '1.0', 'router', PY]);
    expect((await transportStats(lp)).legacy).toBeGreaterThan(before.legacy);

    sendVip(ch, LI, 'callee', 'RPC', rpcRequest('whoami', 'w1'), 'w1', asPy);
    sendVip(ch, LI, 'callee', 'RPC', rpcRequest('for_py', 'f1'), 'f1', asPy);
    sendVip(ch, LI, 'callee', 'RPC', rpcRequest('for_p', 'f2'), 'f2', { ...asPy, user: luser(PRIVILEGED) });
    expect(rpcReply(await inbox.next((m) => m.properties.messageId === 'w1', 5_000, 'whoami')).result).toEqual({ caller: PY, user: PY });
    expect(rpcReply(await inbox.next((m) => m.properties.messageId === 'f1', 5_000, 'for_py')).result).toBe('py-ok');
    expect(JSON.stringify(rpcReply(await inbox.next((m) => m.properties.messageId === 'f2', 5_000, 'for_p')).error)).toMatch(
      /requires capabilities {'can_p'}/,
    );

    const peers = () => lp.watcher.peerlist.list();
    await waitFor(async () => (await peers()).includes('callee') && (await peers()).includes(PY), {
      what: 'callee and the Python peer listed',
    });
    sendVip(ch, LI, 'router', 'agentstop', ['callee'], 's1', asPy);
    await waitFor(async () => (await transportStats(lp)).agentstopRefused === before.agentstopRefused + 1, {
      what: "the legacy peer's agentstop of another refused",
    });
    sendVip(ch, LI, 'router', 'agentstop', [PY], 's2', asPy);
    await waitFor(async () => !(await peers()).includes(PY), { what: "the legacy peer's own agentstop obeyed" });
    expect(await peers()).toContain('callee');
  });

  it('an identity not listed gets no user without user_id, whatever its header says', async () => {
    const { ch, inbox } = await rawClientAs(lp.platform.home, OTHER, true);
    sendVip(ch, LI, 'callee', 'RPC', rpcRequest('for_py', 'o1'), 'o1', { appId: luser(OTHER), user: luser(PY) });
    sendVip(ch, LI, 'callee', 'RPC', rpcRequest('whoami', 'o2'), 'o2', { appId: luser(OTHER), user: luser(PY) });
    expect(JSON.stringify(rpcReply(await inbox.next((m) => m.properties.messageId === 'o1', 5_000, 'for_py')).error)).toMatch(
      /requires capabilities {'can_py'}/,
    );
    expect(rpcReply(await inbox.next((m) => m.properties.messageId === 'o2', 5_000, 'whoami')).result).toEqual({ caller: OTHER, user: '' });
  });
});
