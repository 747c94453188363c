import amqp, { type ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { z } from 'zod';
import type { Agent, RpcCallContext } from '@vip/agent';
import { createRmqAgent } from '@vip/agent/rmq';
import { RmqPubSub, type PubSubDelivery } from '@vip/rmq/pubsub';
import { AMQP_URL, FAST_RECONNECT, Inbox } from '@vip/testing';
import { waitFor } from '@vip/testing';
import { readAgentRmqFile } from '@vip/rmq';
import { startAgentUserPlatform, type AgentUserPlatform } from './rmq-agent-user-platform.js';
import { rawClientAs, rpcReply, rpcRequest, sendVip, type Claim } from './rmq-raw-client.js';

/**
 * Sender identity proven by RabbitMQ (AMQP `user_id`, packages/rmq/src/transport/sender-trust.ts), on a
 * platform in its default mode (its own broker user, per-agent users): an agent on its own broker
 * user `<instance>.<identity>` stamps user_id; receivers that log in as per-agent users (router,
 * agents, broker pubsub) refuse a message whose user_id is an agent user other than its app_id
 * (or pubsub body sender), take that user over the `user` header, and give a message without
 * user_id no user at all (it can pass no capability check). A raw amqplib client logged in as
 * agent user A plays the attacker. Broker users carry the pid and are deleted afterwards.
 * (The attacks on platform identities, auth.update and legacy peers: rmq-impersonation.test.ts.)
 */
const pid = process.pid;
const INSTANCE = `sid${pid}`;
const A = `a${pid}`;
const PRIVILEGED = `p${pid}`; // a capability holder only: no broker user
const CALLEE = 'callee';
const userOf = (identity: string) => `${INSTANCE}.${identity}`;
let p: AgentUserPlatform;
let callee: Agent;
let marks: string[];

beforeAll(async () => {
  p = await startAgentUserPlatform('sender-identity', INSTANCE);
  for (const id of [A, CALLEE]) {
    const add = await p.vipctl('auth', 'add', '--identity', id);
    if (add.code !== 0) throw new Error(`vipctl auth add: ${add.err}`);
  }
  marks = [];
  const file = await readAgentRmqFile(p.platform.home, CALLEE);
  callee = createRmqAgent({
    identity: CALLEE,
    rmq: { url: file!.url, vhost: p.vh.vhost, instanceName: INSTANCE, reconnect: FAST_RECONNECT },
    management: false,
    rpc: { capabilities: { [A]: { can_a: null }, [PRIVILEGED]: { can_a: null, can_p: null } } },
  });
  callee.rpc.export('mark', (x: string) => void marks.push(x));
  callee.rpc.export('whoami', function (this: RpcCallContext) {
    return { caller: this.caller, user: this.user };
  });
  callee.rpc.export('for_a', () => 'a-ok', { allow: 'can_a' });
  callee.rpc.export('for_p', () => 'p-ok', { allow: 'can_p' });
  await callee.start();
}, 60_000);
afterAll(async () => {
  await callee?.close();
  await p?.dispose([userOf(A), userOf(CALLEE)]);
});

const RouterStatsSchema = z.object({
  transport: z.looseObject({ invalid: z.number(), spoofed: z.number(), unproven: z.number().optional() }),
  router: z.looseObject({ counters: z.record(z.string(), z.number()) }),
});
/** The transport's counters, with the router's `agentstop refused` (who may stop whom is the router's rule). */
async function routerStats(): Promise<z.infer<typeof RouterStatsSchema>['transport'] & { agentstopRefused: number }> {
  const v = await p.watcher.query.query('vip-router-stats');
  const s = RouterStatsSchema.parse(typeof v === 'string' ? JSON.parse(v) : v);
  return { ...s.transport, agentstopRefused: s.router.counters['agentstop refused'] ?? 0 };
}
const spoofedAt = (agent: Agent): number => agent.transportStats()?.spoofed ?? 0;
const rawAsA = (queue: boolean) => rawClientAs(p.platform.home, A, queue);
const vip = (ch: Parameters<typeof sendVip>[0], to: string, subsystem: string, args: unknown[], id: string, claim: Claim) =>
  sendVip(ch, INSTANCE, to, subsystem, args, id, claim);

describe('an agent on its own broker user', () => {
  it("stamps user_id on its messages; RPC, ping and pubsub work; the callee's capability check sees the proven user", async () => {
    const tap = await amqp.connect(`${AMQP_URL}/${encodeURIComponent(p.vh.vhost)}`);
    onTestFinished(() => tap.close());
    const tch = await tap.createChannel();
    const { queue } = await tch.assertQueue('', { exclusive: true, autoDelete: true });
    await tch.bindQueue(queue, 'volttron', userOf(CALLEE)); // a copy of what reaches the callee
    const copies = new Inbox<ConsumeMessage>();
    await tch.consume(queue, (m) => m && copies.push(m), { noAck: true });

    const agent = await p.agentOnOwnUser(A);
    expect(await agent.rpc.call(CALLEE, 'whoami')).toEqual({ caller: A, user: A }); // userOf strips `<instance>.`
    expect(await agent.rpc.call(CALLEE, 'for_a')).toBe('a-ok');
    await expect(agent.rpc.call(CALLEE, 'for_p')).rejects.toThrow(/requires capabilities/);
    expect(await agent.ping.ping(CALLEE)).toBeDefined();
    expect(await agent.ping.ping()).toBeDefined();
    const copy = await copies.next((m) => m.properties.appId === userOf(A), 5_000, "A's request at the callee");
    expect(copy.properties.userId).toBe(userOf(A));

    const got: string[] = [];
    await agent.pubsub!.subscribe(`${INSTANCE}/own`, (_p, sender, _b, topic) => void got.push(`${sender}:${topic}`));
    await p.watcher.pubsub!.publish(`${INSTANCE}/own/1`, { message: 1 });
    await agent.pubsub!.publish(`${INSTANCE}/own/2`, { message: 2 });
    await waitFor(() => got.length === 2, { what: 'both publishes at the agent on its own user' });
    expect([...got].sort()).toEqual([`${A}:${INSTANCE}/own/2`, `${p.watcher.identity}:${INSTANCE}/own/1`]);
    expect(spoofedAt(agent)).toBe(0);
    // the watcher logs in as the shared guest user, which proves no identity: the callee (per-agent user) gives it no user
    expect(await p.watcher.rpc.call(CALLEE, 'whoami')).toEqual({ caller: p.watcher.identity, user: '' });
    await expect(p.watcher.rpc.call(CALLEE, 'for_a')).rejects.toThrow(/requires capabilities/);
    const guestCopy = await copies.next((m) => m.properties.appId === userOf(p.watcher.identity), 5_000, "the watcher's request");
    expect(guestCopy.properties.userId).toBe('guest');
    expect(callee.transportStats()).toMatchObject({ unproven: expect.any(Number) as number });
  });
});

describe('a raw client logged in as agent user A', () => {
  it('with user_id A a claimed user header is overridden; without user_id the header counts for nothing: the capability check refuses', async () => {
    const { ch, inbox } = await rawAsA(true);
    const own = { appId: userOf(A), user: userOf(PRIVILEGED) };
    vip(ch, CALLEE, 'RPC', rpcRequest('whoami', 'w1'), 'w1', { ...own, userId: userOf(A) });
    vip(ch, CALLEE, 'RPC', rpcRequest('for_p', 'p1'), 'p1', { ...own, userId: userOf(A) });
    expect(rpcReply(await inbox.next((m) => m.properties.messageId === 'w1', 5_000, 'whoami reply')).result).toEqual({
      caller: A,
      user: A,
    });
    const refused = rpcReply(await inbox.next((m) => m.properties.messageId === 'p1', 5_000, 'for_p reply'));
    expect(JSON.stringify(refused.error)).toMatch(
      new RegExp(`requires capabilities {'can_p'}, but capability {'can_a': None} was provided for user ${A}\\b`),
    );
    // no user_id: the header claiming the privileged user is not believed (VOLTTRON would), the request has no user
    vip(ch, CALLEE, 'RPC', rpcRequest('for_p', 'p2'), 'p2', own);
    vip(ch, CALLEE, 'RPC', rpcRequest('whoami', 'w2'), 'w2', own);
    const unproven = rpcReply(await inbox.next((m) => m.properties.messageId === 'p2', 5_000, 'for_p reply without user_id'));
    expect(unproven.result).toBeUndefined();
    expect(JSON.stringify(unproven.error)).toMatch(/requires capabilities {'can_p'}/);
    expect(rpcReply(await inbox.next((m) => m.properties.messageId === 'w2', 5_000, 'whoami reply without user_id')).result).toEqual({
      caller: A,
      user: '',
    });
  });

  it('claiming another identity with user_id A: an RPC request is not executed, counted spoofed; without user_id it runs with no user', async () => {
    const { ch } = await rawAsA(false);
    const before = spoofedAt(callee);
    vip(ch, CALLEE, 'RPC', rpcRequest('mark', 's1', ['spoofed']), 's1', {
      appId: userOf('victim'),
      user: userOf('victim'),
      userId: userOf(A),
    });
    await waitFor(() => spoofedAt(callee) === before + 1, { what: 'the spoofed request counted at the callee' });
    vip(ch, CALLEE, 'RPC', rpcRequest('mark', 's2', ['unproven']), 's2', { appId: userOf('victim'), user: userOf('victim') });
    await waitFor(() => marks.includes('unproven'), { what: 'the request without user_id executed (mark needs no capability)' });
    expect(marks).not.toContain('spoofed');
    expect(callee.transportStats()!.invalid).toBeGreaterThanOrEqual(1);
  });

  it('user_id B is refused by RabbitMQ itself: the channel closes with PRECONDITION_FAILED', async () => {
    const { model } = await rawAsA(false);
    const ch = await model.createConfirmChannel();
    const closed = new Promise<Error>((resolve) => ch.once('error', resolve));
    const confirm = new Promise<unknown>((resolve) => {
      ch.publish('volttron', userOf(CALLEE), Buffer.from('[]'), { appId: userOf('victim'), type: 'RPC', userId: userOf('victim') }, (err) =>
        resolve(err),
      );
    });
    expect((await closed).message).toMatch(
      new RegExp(`PRECONDITION_FAILED - user_id property set to '${INSTANCE}\\.victim' but authenticated user was '${INSTANCE}\\.a\\d+'`),
    );
    expect(await confirm).toBeTruthy();
  });

  it('the router refuses an agentstop claiming B, naming B from proven A, or without user_id at all (B stays); a proven self-stop is obeyed', async () => {
    const link = { url: AMQP_URL, vhost: p.vh.vhost, instanceName: INSTANCE, reconnect: FAST_RECONNECT };
    const victim = createRmqAgent({ identity: 'victim', rmq: link, management: false });
    onTestFinished(() => victim.close());
    await victim.start();
    const peers = () => p.watcher.peerlist.list();
    await waitFor(async () => (await peers()).includes('victim'), { what: 'the victim in the peerlist' });
    const { ch, inbox } = await rawAsA(true);
    const before = await routerStats();
    vip(ch, 'router', 'agentstop', ['victim'], 'stop1', { appId: userOf('victim'), user: userOf('victim'), userId: userOf(A) });
    await waitFor(async () => (await routerStats()).spoofed === before.spoofed + 1, {
      what: 'the spoofed agentstop counted at the router',
    });
    expect((await routerStats()).invalid).toBe(before.invalid + 1);
    // proven and honest about itself, but naming another peer: a proven sender may stop only itself
    vip(ch, 'router', 'agentstop', ['victim'], 'stop1b', { appId: userOf(A), user: userOf(A), userId: userOf(A) });
    await waitFor(async () => (await routerStats()).agentstopRefused === before.agentstopRefused + 1, {
      what: 'the agentstop naming another peer counted',
    });
    // no user_id: nothing proves the sender is the peer it names (VOLTTRON obeys it)
    vip(ch, 'router', 'agentstop', ['victim'], 'stop2', { appId: userOf('victim'), user: userOf('victim') });
    await waitFor(async () => (await routerStats()).agentstopRefused === before.agentstopRefused + 2, {
      what: 'the unproven agentstop counted',
    });
    expect(await peers()).toContain('victim');
    // A proven, stopping itself: obeyed
    vip(ch, 'router', 'ping', ['here'], 'ping1', { appId: userOf(A), user: userOf(A), userId: userOf(A) });
    await inbox.next((m) => m.properties.messageId === 'ping1', 5_000, "the router's pong");
    await waitFor(async () => (await peers()).includes(A), { what: 'A in the peerlist' });
    vip(ch, 'router', 'agentstop', [A], 'stop3', { appId: userOf(A), user: userOf(A), userId: userOf(A) });
    await waitFor(async () => !(await peers()).includes(A), { what: "A's own agentstop obeyed" });
    expect(await peers()).toContain('victim');
  });

  it("a message to `<instance>.` (no identity) is unroutable: error 113 to the sender, never handled as the router's", async () => {
    const other = createRmqAgent({
      identity: 'other2',
      rmq: { url: AMQP_URL, vhost: p.vh.vhost, instanceName: INSTANCE, reconnect: FAST_RECONNECT },
      management: false,
    });
    onTestFinished(() => other.close());
    await other.start();
    const { ch, inbox } = await rawAsA(true);
    vip(ch, '', 'agentstop', ['other2'], 'stop-nowhere', { appId: userOf(A), user: userOf(A) });
    const err = await inbox.next((m) => m.properties.messageId === 'stop-nowhere', 10_000, 'error 113 for the key without identity');
    expect(err.properties.type).toBe('error');
    expect(JSON.parse(err.content.toString('utf8'))[0]).toBe('113');
    expect(await p.watcher.peerlist.list()).toContain('other2');
  });

  it("broker pubsub: a publish whose app_id or body sender is not A is refused and counted; A's own is delivered", async () => {
    const sub = new RmqPubSub({
      url: AMQP_URL,
      vhost: p.vh.vhost,
      instanceName: INSTANCE,
      identity: 'pubsub-sub',
      reconnect: FAST_RECONNECT,
    });
    onTestFinished(() => sub.close());
    await sub.open();
    const got = new Inbox<PubSubDelivery>();
    await sub.subscribe(`${INSTANCE}/spoof`, got.push);
    await p.agentOnOwnUser(A); // its hello has the platform set A's topic permission (pubsub writes)
    const { ch } = await rawAsA(false);
    const publish = (appId: string, sender: string, n: number) =>
      ch.publish(
        'volttron',
        `__pubsub__.${INSTANCE}.${INSTANCE}.spoof.${n}.#`,
        Buffer.from(JSON.stringify({ sender, bus: '', headers: {}, message: n })),
        {
          appId,
          type: 'pubsub',
          contentType: 'application/json',
          userId: userOf(A),
          headers: { recipient: '', proto: 'VIP', user: sender },
        },
      );
    publish(userOf(A), 'victim', 1);
    publish(userOf('victim'), 'victim', 2);
    publish(userOf(A), A, 3);
    expect(await got.next(undefined, 5_000, "A's own publish")).toMatchObject({ sender: A, message: 3 });
    await waitFor(() => sub.stats().spoofed === 2, { what: 'both forged publishes counted spoofed' });
    expect(sub.stats()).toMatchObject({ invalid: 2, delivered: 1 });
    expect(got.items).toHaveLength(1);
  });
});
