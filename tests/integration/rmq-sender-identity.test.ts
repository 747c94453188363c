import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { z } from 'zod';
import type { Agent, RpcCallContext } from '../../packages/agent/src/index.js';
import { createRmqAgent } from '../../packages/agent/src/rmq.js';
import { RmqPubSub, type PubSubDelivery } from '../../packages/rmq/src/index.js';
import { AMQP_URL, FAST_RECONNECT, Inbox } from '../../packages/rmq/test/broker-fixture.js';
import { waitFor } from '../../packages/testing/src/index.js';
import { readAgentRmqFile } from '../../apps/vipctl/src/agent-broker-user.js';
import { startAgentUserPlatform, type AgentUserPlatform } from './rmq-agent-user-platform.js';

/**
 * Sender identity proven by RabbitMQ (AMQP `user_id`, packages/rmq/src/sender-identity.ts): an
 * agent on its own broker user `<instance>.<identity>` stamps user_id; receivers (router, agents,
 * broker pubsub) refuse a message whose user_id is an agent user other than its app_id (or pubsub
 * body sender), and take that user over the `user` header. A raw amqplib client logged in as
 * agent user A plays the attacker. Messages without user_id (Python agents) and shared users
 * (guest) keep VOLTTRON's behaviour. Broker users carry the pid and are deleted afterwards.
 */
const INSTANCE = 'sid';
const pid = process.pid;
const A = `a${pid}`;
const PRIVILEGED = `p${pid}`; // a capability holder only: no broker user
const userOf = (identity: string) => `${INSTANCE}.${identity}`;
let p: AgentUserPlatform;
let callee: Agent;
let marks: string[];
let whoami: Array<{ caller: string; user: string }>;

beforeAll(async () => {
  p = await startAgentUserPlatform('sender-identity', INSTANCE);
  const add = await p.vipctl('auth', 'add', '--identity', A);
  if (add.code !== 0) throw new Error(`vipctl auth add: ${add.err}`);
  marks = [];
  whoami = [];
  callee = createRmqAgent({
    identity: 'callee', rmq: { url: AMQP_URL, vhost: p.vh.vhost, instanceName: INSTANCE, reconnect: FAST_RECONNECT }, management: false,
    rpc: { capabilities: { [A]: { can_a: null }, [PRIVILEGED]: { can_a: null, can_p: null } } },
  });
  callee.rpc.export('mark', (x: string) => void marks.push(x));
  callee.rpc.export('whoami', function (this: RpcCallContext) {
    whoami.push({ caller: this.caller, user: this.user });
    return { caller: this.caller, user: this.user };
  });
  callee.rpc.export('for_a', () => 'a-ok', { allow: 'can_a' });
  callee.rpc.export('for_p', () => 'p-ok', { allow: 'can_p' });
  await callee.start();
}, 60_000);
afterAll(async () => {
  await callee?.close();
  await p?.dispose([userOf(A)]);
});

const RouterStatsSchema = z.object({ transport: z.looseObject({ invalid: z.number(), spoofed: z.number() }) });
async function routerStats(): Promise<z.infer<typeof RouterStatsSchema>['transport']> {
  const v = await p.watcher.query.query('vip-router-stats');
  return RouterStatsSchema.parse(typeof v === 'string' ? JSON.parse(v) : v).transport;
}
const spoofedAt = (agent: Agent): number => agent.transportStats()?.spoofed ?? 0;

/** A raw amqplib client logged in as agent user A (the URL vipctl wrote), with A's queue when `queue`. */
async function rawAsA(queue: boolean): Promise<{ model: ChannelModel; ch: Channel; inbox: Inbox<ConsumeMessage> }> {
  const file = await readAgentRmqFile(p.platform.home, A);
  if (!file) throw new Error(`no rmq.json for ${A}`);
  const model = await amqp.connect(`${file.url}/${encodeURIComponent(file.vhost)}`, { noDelay: true });
  onTestFinished(() => model.close().catch(() => undefined));
  const ch = await model.createChannel();
  const inbox = new Inbox<ConsumeMessage>();
  if (queue) {
    await ch.assertQueue(userOf(A), { durable: false, exclusive: true, autoDelete: true });
    await ch.bindQueue(userOf(A), 'volttron', userOf(A));
    await ch.consume(userOf(A), (m) => m && inbox.push(m), { noAck: true });
  }
  return { model, ch, inbox };
}

interface Claim {
  readonly appId: string;
  readonly user: string;
  readonly userId?: string;
}
/** A VIP message as pika sends it, claiming `claim.appId` and header `user`, with or without user_id. */
function vip(ch: Channel, to: string, subsystem: string, args: unknown[], id: string, claim: Claim): void {
  const key = userOf(to);
  ch.publish('volttron', key, Buffer.from(JSON.stringify(args), 'utf8'), {
    appId: claim.appId, messageId: id, type: subsystem, contentType: 'application/json',
    headers: { recipient: key, proto: 'VIP', user: claim.user }, ...(claim.userId === undefined ? {} : { userId: claim.userId }),
  });
}
const rpcRequest = (method: string, id: string, params: unknown[] = []) => [JSON.stringify({ jsonrpc: '2.0', method, params, id })];
interface RpcReply {
  result?: unknown;
  error?: { message: string; data?: unknown };
}
const rpcReply = (m: ConsumeMessage): RpcReply => JSON.parse((JSON.parse(m.content.toString('utf8')) as string[])[0]!) as RpcReply;

describe('an agent on its own broker user', () => {
  it('stamps user_id on its messages; RPC, ping and pubsub work; the callee\'s capability check sees the proven user', async () => {
    const tap = await amqp.connect(`${AMQP_URL}/${encodeURIComponent(p.vh.vhost)}`);
    onTestFinished(() => tap.close());
    const tch = await tap.createChannel();
    const { queue } = await tch.assertQueue('', { exclusive: true, autoDelete: true });
    await tch.bindQueue(queue, 'volttron', userOf('callee')); // a copy of what reaches the callee
    const copies = new Inbox<ConsumeMessage>();
    await tch.consume(queue, (m) => m && copies.push(m), { noAck: true });

    const agent = await p.agentOnOwnUser(A);
    expect(await agent.rpc.call('callee', 'whoami')).toEqual({ caller: A, user: A }); // userOf strips `<instance>.`
    expect(await agent.rpc.call('callee', 'for_a')).toBe('a-ok');
    await expect(agent.rpc.call('callee', 'for_p')).rejects.toThrow(/requires capabilities/);
    expect(await agent.ping.ping('callee')).toBeDefined();
    expect(await agent.ping.ping()).toBeDefined();
    const copy = await copies.next((m) => m.properties.appId === userOf(A), 5_000, 'A\'s request at the callee');
    expect(copy.properties.userId).toBe(userOf(A));

    const got: string[] = [];
    await agent.pubsub!.subscribe('sid/own', (_p, sender, _b, topic) => void got.push(`${sender}:${topic}`));
    await p.watcher.pubsub!.publish('sid/own/1', { message: 1 });
    await agent.pubsub!.publish('sid/own/2', { message: 2 });
    await waitFor(() => got.length === 2, { what: 'both publishes at the agent on its own user' });
    expect([...got].sort()).toEqual([`${A}:sid/own/2`, `${p.watcher.identity}:sid/own/1`]);
    expect(spoofedAt(agent)).toBe(0);
    // the shared guest user stamps guest, which proves no identity: the header as before
    expect(await p.watcher.rpc.call('callee', 'whoami')).toEqual({ caller: p.watcher.identity, user: p.watcher.identity });
    const guestCopy = await copies.next((m) => m.properties.appId === userOf(p.watcher.identity), 5_000, 'the watcher\'s request');
    expect(guestCopy.properties.userId).toBe('guest');
  });
});

describe('a raw client logged in as agent user A', () => {
  it('with user_id A, a claimed user header is overridden: the capability check sees A; without user_id the header counts (as before)', async () => {
    const { ch, inbox } = await rawAsA(true);
    const own = { appId: userOf(A), user: userOf(PRIVILEGED) };
    vip(ch, 'callee', 'RPC', rpcRequest('whoami', 'w1'), 'w1', { ...own, userId: userOf(A) });
    vip(ch, 'callee', 'RPC', rpcRequest('for_p', 'p1'), 'p1', { ...own, userId: userOf(A) });
    expect(rpcReply(await inbox.next((m) => m.properties.messageId === 'w1', 5_000, 'whoami reply')).result).toEqual({ caller: A, user: A });
    const refused = rpcReply(await inbox.next((m) => m.properties.messageId === 'p1', 5_000, 'for_p reply'));
    expect(JSON.stringify(refused.error)).toMatch(new RegExp(`requires capabilities {'can_p'}, but capability {'can_a': None} was provided for user ${A}\\b`));
    // no user_id: a Python-shaped message, the header is believed (VOLTTRON's behaviour)
    vip(ch, 'callee', 'RPC', rpcRequest('for_p', 'p2'), 'p2', own);
    expect(rpcReply(await inbox.next((m) => m.properties.messageId === 'p2', 5_000, 'for_p reply without user_id')).result).toBe('p-ok');
  });

  it('claiming another identity with user_id A: an RPC request is not executed, counted spoofed; without user_id it runs (as before)', async () => {
    const { ch } = await rawAsA(false);
    const before = spoofedAt(callee);
    vip(ch, 'callee', 'RPC', rpcRequest('mark', 's1', ['spoofed']), 's1', { appId: userOf('victim'), user: userOf('victim'), userId: userOf(A) });
    await waitFor(() => spoofedAt(callee) === before + 1, { what: 'the spoofed request counted at the callee' });
    vip(ch, 'callee', 'RPC', rpcRequest('mark', 's2', ['unproven']), 's2', { appId: userOf('victim'), user: userOf('victim') });
    await waitFor(() => marks.includes('unproven'), { what: 'the request without user_id executed' });
    expect(marks).not.toContain('spoofed');
    expect(callee.transportStats()).toMatchObject({ invalid: expect.any(Number) as number });
    expect(callee.transportStats()!.invalid).toBeGreaterThanOrEqual(1);
  });

  it('user_id B is refused by RabbitMQ itself: the channel closes with PRECONDITION_FAILED', async () => {
    const { model } = await rawAsA(false);
    const ch = await model.createConfirmChannel();
    const closed = new Promise<Error>((resolve) => ch.once('error', resolve));
    const confirm = new Promise<unknown>((resolve) => {
      ch.publish('volttron', userOf('callee'), Buffer.from('[]'), { appId: userOf('victim'), type: 'RPC', userId: userOf('victim') }, (err) => resolve(err));
    });
    expect((await closed).message).toMatch(/PRECONDITION_FAILED - user_id property set to 'sid\.victim' but authenticated user was 'sid\.a\d+'/);
    expect(await confirm).toBeTruthy();
  });

  it('the router refuses an agentstop claiming to come from B, or naming B from A (error 13, B stays); an agent stopping itself is obeyed', async () => {
    const link = { url: AMQP_URL, vhost: p.vh.vhost, instanceName: INSTANCE, reconnect: FAST_RECONNECT };
    const victim = createRmqAgent({ identity: 'victim', rmq: link, management: false });
    const other = createRmqAgent({ identity: 'other', rmq: link, management: false });
    onTestFinished(() => victim.close());
    onTestFinished(() => other.close());
    await Promise.all([victim.start(), other.start()]);
    const peers = () => p.watcher.peerlist.list();
    await waitFor(async () => (await peers()).includes('victim') && (await peers()).includes('other'), { what: 'both in the peerlist' });
    const { ch, inbox } = await rawAsA(true);
    const before = await routerStats();
    vip(ch, 'router', 'agentstop', ['victim'], 'stop1', { appId: userOf('victim'), user: userOf('victim'), userId: userOf(A) });
    await waitFor(async () => (await routerStats()).spoofed === before.spoofed + 1, { what: 'the spoofed agentstop counted at the router' });
    expect((await routerStats()).invalid).toBe(before.invalid + 1);
    expect(await peers()).toContain('victim');
    // honest about itself, but naming another peer: only the control user may (the router's rule, both buses)
    vip(ch, 'router', 'agentstop', ['victim'], 'stop1b', { appId: userOf(A), user: userOf(A), userId: userOf(A) });
    const refused = await inbox.next((m) => m.properties.messageId === 'stop1b', 10_000, 'error 13 for the agentstop naming another peer');
    expect(refused.properties.type).toBe('error');
    expect((JSON.parse(refused.content.toString('utf8')) as unknown[]).slice(0, 2)).toEqual(['13', 'Permission denied: agentstop of another peer is accepted only from control']);
    expect(await peers()).toContain('victim');
    vip(ch, 'router', 'agentstop', ['other'], 'stop2', { appId: userOf('other'), user: userOf('other') });
    await waitFor(async () => !(await peers()).includes('other'), { what: 'the unproven agentstop obeyed' });
    expect(await peers()).toContain('victim');
  });

  it('a message to `<instance>.` (no identity) is unroutable: error 113 to the sender, never handled as the router\'s', async () => {
    const other = createRmqAgent({ identity: 'other2', rmq: { url: AMQP_URL, vhost: p.vh.vhost, instanceName: INSTANCE, reconnect: FAST_RECONNECT }, management: false });
    onTestFinished(() => other.close());
    await other.start();
    const { ch, inbox } = await rawAsA(true);
    vip(ch, '', 'agentstop', ['other2'], 'stop-nowhere', { appId: userOf(A), user: userOf(A) });
    const err = await inbox.next((m) => m.properties.messageId === 'stop-nowhere', 10_000, 'error 113 for the key without identity');
    expect(err.properties.type).toBe('error');
    expect(JSON.parse(err.content.toString('utf8'))[0]).toBe('113');
    expect(await p.watcher.peerlist.list()).toContain('other2');
  });

  it('broker pubsub: a publish whose app_id or body sender is not A is refused and counted; A\'s own is delivered', async () => {
    const sub = new RmqPubSub({ url: AMQP_URL, vhost: p.vh.vhost, instanceName: INSTANCE, identity: 'pubsub-sub', reconnect: FAST_RECONNECT });
    onTestFinished(() => sub.close());
    await sub.open();
    const got = new Inbox<PubSubDelivery>();
    await sub.subscribe('sid/spoof', got.push);
    await p.agentOnOwnUser(A); // its hello has the platform set A's topic permission (pubsub writes)
    const { ch } = await rawAsA(false);
    const publish = (appId: string, sender: string, n: number) =>
      ch.publish('volttron', `__pubsub__.${INSTANCE}.sid.spoof.${n}.#`, Buffer.from(JSON.stringify({ sender, bus: '', headers: {}, message: n })), {
        appId, type: 'pubsub', contentType: 'application/json', userId: userOf(A), headers: { recipient: '', proto: 'VIP', user: sender },
      });
    publish(userOf(A), 'victim', 1);
    publish(userOf('victim'), 'victim', 2);
    publish(userOf(A), A, 3);
    expect(await got.next(undefined, 5_000, 'A\'s own publish')).toMatchObject({ sender: A, message: 3 });
    await waitFor(() => sub.stats().spoofed === 2, { what: 'both forged publishes counted spoofed' });
    expect(sub.stats()).toMatchObject({ invalid: 2, delivered: 1 });
    expect(got.items).toHaveLength(1);
  });
});
