import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import amqp, { type ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { onPlatform, PlatformUnreachableError, type Agent } from '@vip/agent';
import { createRmqAgent, type RmqPubSubSubsystem } from '@vip/agent/rmq';
import { isVipError } from '@vip/protocol';
import { readAgentRmqFile } from '@vip/rmq';
import {
  applyFederation,
  ensureVolttronBroker,
  parseFederationConfig,
  RabbitMqManagement,
  removeFederationUpstream,
  removeShovel,
} from '@vip/rmq/admin';
import { RmqPubSub, type PubSubDelivery } from '@vip/rmq/pubsub';
import { Inbox, startPlatform, waitFor, type PlatformProcess } from '@vip/testing';
import { PrivateRabbitMq } from './private-rabbitmq.js';

/**
 * Two RabbitMQ platforms on two PRIVATE nodes (tools/rmq-cluster.sh, one node each, not
 * clustered; federation and shovel plugins enabled there only, never on the shared broker): pa
 * (virtual host fed-pa) on node A, pb (fed-pb) on node B, linked the way VOLTTRON links them, set
 * up with `vipctl federation add` / `vipctl shovel add` from the files in VIP_HOME. Each link is
 * cut twice and comes back by itself: its connections force-closed while it may not come back in,
 * then its plugin restarted on the node that runs the link (federation: the downstream, B; shovel:
 * the source, A). Every publish that resolved, from the first one that crossed, reaches the
 * persistent all-platforms subscriber of the other platform exactly once, and `vipctl
 * federation|shovel status` shows the link down during each cut, then up. External RPC
 * (`rpc.call(..., {externalPlatform})`) crosses both kinds of link: the RPC shovels VOLTTRON sets
 * up, and federation both ways (the per-agent-users platforms: ua on node A, ub on node B).
 */
type Side = 'pa' | 'pb';
const VIPCTL = fileURLToPath(new URL('../../apps/vipctl/dist/main.js', import.meta.url));
const run = promisify(execFile);
const FAST_RECONNECT = { initialDelayMs: 200, maxDelayMs: 1_000 } as const;
let runDir: string;
let nodes: Record<Side, PrivateRabbitMq>;
let apis: Record<Side, RabbitMqManagement>;

beforeAll(async () => {
  runDir = mkdtempSync(join(tmpdir(), 'vip-rmq-fed-'));
  nodes = {
    pa: new PrivateRabbitMq({ base: 5797, nodes: 1, dir: join(runDir, 'pa'), prefix: 'vip-fa' }),
    pb: new PrivateRabbitMq({ base: 5798, nodes: 1, dir: join(runDir, 'pb'), prefix: 'vip-fb' }),
  };
  await Promise.all([nodes.pa.start(), nodes.pb.start()]);
  apis = { pa: new RabbitMqManagement(nodes.pa.management(1)), pb: new RabbitMqManagement(nodes.pb.management(1)) };
}, 1_080_000); // start may first wait (up to 10 min) for another private-RabbitMQ suite to finish
afterAll(async () => {
  if (nodes) await Promise.allSettled([nodes.pa.stop(), nodes.pb.stop()]);
  if (runDir) rmSync(runDir, { recursive: true, force: true });
}, 120_000);

async function vipctl(home: string, ...argv: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [VIPCTL, '--vip-home', home, ...argv], { timeout: 60_000 });
  return stdout;
}

interface LinkRow {
  readonly name: string;
  readonly state: string;
}
async function linkStates(home: string, kind: 'federation' | 'shovel'): Promise<LinkRow[]> {
  return JSON.parse(await vipctl(home, kind, 'status', '--json')) as LinkRow[];
}
async function linkState(home: string, kind: 'federation' | 'shovel'): Promise<string | undefined> {
  return (await linkStates(home, kind))[0]?.state;
}

async function platform(side: Side): Promise<PlatformProcess> {
  const p = await startPlatform({
    bus: 'rmq',
    instanceName: side,
    rmq: { vhost: `fed-${side}`, url: nodes[side].url(1), managementUrl: nodes[side].managementUrl(1), sharedLogin: true },
  });
  onTestFinished(() => p.close());
  return p;
}

async function agent(side: Side, identity: string): Promise<Agent> {
  const a = createRmqAgent({
    identity,
    rmq: { url: nodes[side].url(1), vhost: `fed-${side}`, instanceName: side, reconnect: FAST_RECONNECT },
    management: false,
  });
  onTestFinished(() => a.close());
  await a.start();
  return a;
}

/**
 * A platform on the node of `side` in its default mode: its own broker user `<instance>.router`,
 * proofs required; agents get their own broker users (`vipctl auth add --identity`). Vhost `fedu-<instance>`.
 */
async function ownUsersPlatform(instanceName: string, side: Side): Promise<PlatformProcess> {
  const p = await startPlatform({
    bus: 'rmq',
    instanceName,
    rmq: { vhost: `fedu-${instanceName}`, url: nodes[side].url(1), managementUrl: nodes[side].managementUrl(1) },
  });
  onTestFinished(() => p.close());
  return p;
}

/** `<instance>.<identity>`'s broker user and rmq.json, made by `vipctl auth add --identity`. */
async function ensureOwnUser(p: PlatformProcess, identity: string): Promise<void> {
  if ((await readAgentRmqFile(p.home, identity)) === undefined) await vipctl(p.home, 'auth', 'add', '--identity', identity, '--json');
}

/** An agent on its own broker user (from its rmq.json), started; closed at test end. */
async function agentOnOwnUser(p: PlatformProcess, identity: string): Promise<Agent> {
  await ensureOwnUser(p, identity);
  const file = (await readAgentRmqFile(p.home, identity))!;
  const a = createRmqAgent({
    identity,
    rmq: { url: file.url, vhost: file.vhost, instanceName: file.instanceName, reconnect: FAST_RECONNECT },
    management: false,
  });
  onTestFinished(() => a.close());
  await a.start();
  return a;
}

/**
 * VOLTTRON's RPC shovel from `p`'s `local` to `remote` on `remoteInstance` (vhost `remoteVhost` on
 * the node of `remoteSide`), logged in there as the local agent's own user (`<instance>.<local>`,
 * made on the remote broker as VOLTTRON's remote broker has the shovel's user; allowed to write the
 * `volttron` exchange only), running before it returns; removed at test end.
 */
async function rpcShovel(
  p: PlatformProcess,
  remoteSide: Side,
  remoteVhost: string,
  remoteInstance: string,
  local: string,
  remote: string,
): Promise<void> {
  const file = (await readAgentRmqFile(p.home, local))!;
  const login = new URL(file.url);
  const user = decodeURIComponent(login.username);
  const password = decodeURIComponent(login.password);
  await apis[remoteSide].ensureUser(user, password);
  await apis[remoteSide].setPermissions(remoteVhost, user, { configure: '^$', write: '^volttron$', read: '^$' });
  const argv = ['--port', String(nodes[remoteSide].base), '--user', user, '--password', password, '--json'];
  await vipctl(
    p.home,
    'shovel',
    'add',
    '127.0.0.1',
    '--remote-vhost',
    remoteVhost,
    '--rpc',
    `${remoteInstance}:${local}:${remote}`,
    ...argv,
  );
  onTestFinished(async () => {
    await vipctl(p.home, 'shovel', 'remove', '127.0.0.1', '--json').catch(() => undefined);
  });
  await waitFor(async () => (await linkStates(p.home, 'shovel'))[0]?.state === 'running', {
    timeoutMs: 30_000,
    what: 'the RPC shovel running',
  });
}

/** Publishes on `topic` from `pub` until stopped; the numbers of those that resolved. */
function publishing(pub: Agent, topic: string): { resolved: number[]; stop(): Promise<void> } {
  const resolved: number[] = [];
  let stopped = false;
  const done = (async () => {
    for (let i = 0; i < 20_000 && !stopped; i++) {
      try {
        await pub.pubsub!.publish(topic, { message: i });
        resolved.push(i);
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    resolved,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

/** Force-close the link's network connections on both nodes: every connection that is not one of ours (vip's are named `vip-...`). */
async function closeLinkConnections(): Promise<string[]> {
  const closed: string[] = [];
  for (const side of ['pa', 'pb'] as const) {
    const conns = (await apis[side].listConnections(`fed-${side}`)).filter((c) => !c.clientName.startsWith('vip-'));
    for (const c of conns) await apis[side].closeConnection(c.name, 'link cut by the test');
    closed.push(...conns.map((c) => c.clientName));
  }
  return closed;
}

/**
 * Force-close the link's connections (client name starting `clientPrefix`) and wait for `vipctl
 * <kind> status` to show it not running: what it says then. The management API lists a
 * connection once its stats are in (a few seconds): until then, again.
 */
async function cutLinkConnections(home: string, kind: 'federation' | 'shovel', clientPrefix: string): Promise<LinkRow | undefined> {
  await waitFor(async () => (await closeLinkConnections()).some((n) => n.startsWith(clientPrefix)), {
    timeoutMs: 30_000,
    what: `the ${kind} link's connections to force-close`,
  });
  await waitFor(async () => (await linkState(home, kind)) !== 'running', { timeoutMs: 30_000, what: `status: the ${kind} link down` });
  return (await linkStates(home, kind))[0];
}

/** The most connections `fed-<side>` accepts (existing ones stay), or no limit. */
async function connectionLimit(side: Side, max: number | undefined): Promise<void> {
  const m = nodes[side].management(1);
  const res = await fetch(`${m.baseUrl}/api/vhost-limits/fed-${side}/max-connections`, {
    method: max === undefined ? 'DELETE' : 'PUT',
    headers: { authorization: `Basic ${Buffer.from(`${m.user}:${m.password}`).toString('base64')}`, 'content-type': 'application/json' },
    ...(max === undefined ? {} : { body: JSON.stringify({ value: max }) }),
  });
  if (!res.ok) throw new Error(`vhost limit on fed-${side}: HTTP ${res.status} ${await res.text()}`);
}

/** Named moments of a run: how many publishes had resolved then. */
type Marks = [string, number][];

function marking(load: { readonly resolved: readonly number[] }): { marks: Marks; mark(name: string): void } {
  const marks: Marks = [];
  return { marks, mark: (name) => void marks.push([name, load.resolved.length]) };
}

/**
 * Restart `plugin` on the node of `side`, which runs the link, while `load` publishes: what `vipctl
 * <kind> status` says while the plugin is off (required: down), then the link running again and
 * publishes going on after it. Marks pluginStop and pluginBack.
 */
async function restartLinkPlugin(
  side: Side,
  home: string,
  kind: 'federation' | 'shovel',
  load: { readonly resolved: readonly number[] },
  mark: (name: string) => void,
): Promise<LinkRow | undefined> {
  const plugin = kind === 'federation' ? 'rabbitmq_federation' : 'rabbitmq_shovel';
  mark('pluginStop');
  await nodes[side].plugins(1, 'disable', `${plugin}_management`, plugin);
  let whileOff: LinkRow | undefined;
  try {
    whileOff = (await linkStates(home, kind))[0];
  } finally {
    await nodes[side].plugins(1, 'enable', plugin, `${plugin}_management`);
  }
  expect(whileOff).toMatchObject({ state: 'down' });
  await waitFor(async () => (await linkState(home, kind)) === 'running', {
    timeoutMs: 60_000,
    what: `the ${kind} link after the plugin restart`,
  });
  mark('pluginBack');
  const back = load.resolved.length;
  await waitFor(() => load.resolved.length > back + 20, { timeoutMs: 30_000, what: `publishes after the ${kind} plugin restart` });
  return whileOff;
}

/**
 * Per window between marks (and after the last), from the first publish that crossed: how many
 * resolved, how many the subscriber got, how many it did not, how many it got more than once.
 */
function windowFigures(resolved: readonly number[], got: ReadonlyMap<number, number>, marks: Marks) {
  const first = Math.min(...got.keys());
  const bounds: Marks = [['start', 0], ...marks, ['end', resolved.length]];
  return bounds.slice(0, -1).map(([name, from], i) => {
    const inWindow = resolved.slice(from, bounds[i + 1]![1]).filter((n) => n >= first);
    const received = inWindow.filter((n) => got.has(n)).length;
    const twice = inWindow.filter((n) => (got.get(n) ?? 0) > 1).length;
    return { window: `${name}..${bounds[i + 1]![0]}`, published: inWindow.length, received, lost: inWindow.length - received, twice };
  });
}

/** Every publish that resolved, from the first one that crossed, arrives; none twice. */
/** How many times each numbered message of `prefix` reached `sub`, on all platforms, through persistent queue `queue`. */
async function countingSubscription(sub: Agent, prefix: string, queue: string): Promise<ReadonlyMap<number, number>> {
  const got = new Map<number, number>();
  await (sub.pubsub as RmqPubSubSubsystem).subscribe(
    prefix,
    (_p, _s, _b, _t, _h, m) => void got.set(Number(m), (got.get(Number(m)) ?? 0) + 1),
    { allPlatforms: true, persistentQueue: queue },
  );
  return got;
}

async function expectNothingLost(what: string, resolved: readonly number[], got: ReadonlyMap<number, number>, marks: Marks, sub: Agent) {
  const first = Math.min(...got.keys());
  await waitFor(() => resolved.filter((n) => n >= first).every((n) => got.has(n)), {
    timeoutMs: 60_000,
    what: `every resolved publish at pb (${what})`,
  }).catch(() => undefined);
  const figures = windowFigures(resolved, got, marks);
  const repeatsDropped = sub.pubsub!.stats().repeats_dropped;
  console.info(JSON.stringify({ [what]: { resolved: resolved.length, first, received: got.size, repeatsDropped, windows: figures } }));
  expect(resolved.filter((n) => n >= first && !got.has(n))).toEqual([]);
  expect([...got.entries()].filter(([, c]) => c > 1)).toEqual([]);
}

describe('two RabbitMQ platforms on two nodes linked by federation, then by shovel', () => {
  it('federation: all-platforms pubsub across, the link cut and its plugin restarted, nothing lost, status down then up', {
    timeout: 360_000,
  }, async () => {
    const [a, b] = [await platform('pa'), await platform('pb')];
    const pub = await agent('pa', 'pub');
    const sub = await agent('pb', 'sub');
    const got = await countingSubscription(sub, 'devices', 'fed');
    // pb federates pa's volttron exchange (VOLTTRON's upstream and policy, from pb's federation file)
    // the link logs in to node A as its own user (federation-user), whose rights the cut takes away for a while
    await apis.pa.ensureUser('fed-link', 'fed-link-pw');
    const linkRights = { configure: '.*', write: '.*', read: '.*' };
    await apis.pa.setPermissions('fed-pa', 'fed-link', linkRights);
    // even when the test fails, the next test's vhosts are not linked by this federation
    onTestFinished(() => removeFederationUpstream(apis.pb, 'fed-pb', 'upstream-127.0.0.1-fed-pa').then(() => undefined));
    const added = await vipctl(
      b.home,
      'federation',
      'add',
      '127.0.0.1',
      '--port',
      String(nodes.pa.base),
      '--remote-vhost',
      'fed-pa',
      '--user',
      'fed-link',
      '--password',
      'fed-link-pw',
      '--json',
    );
    expect(JSON.parse(added)).toEqual([
      { name: 'upstream-127.0.0.1-fed-pa', change: 'created' },
      { name: 'volttron-federation', change: 'created' },
    ]);
    // idempotent: the same file again changes nothing
    expect(JSON.parse(await vipctl(b.home, 'federation', 'apply', '--json'))).toEqual([
      { name: 'upstream-127.0.0.1-fed-pa', change: 'unchanged' },
      { name: 'volttron-federation', change: 'unchanged' },
    ]);
    await waitFor(async () => (await linkState(b.home, 'federation')) === 'running', {
      timeoutMs: 30_000,
      what: 'the federation link running',
    });
    const load = publishing(pub, 'devices/ahu');
    const { marks, mark } = marking(load);
    const statusWhileCut: Record<string, unknown> = {};
    try {
      await waitFor(() => got.size >= 20, { timeoutMs: 30_000, what: 'federated publishes at pb' });
      // cut 1: the link's connection force-closed while its user may not come back in; then allowed again
      mark('connectionsCut');
      await apis.pa.setPermissions('fed-pa', 'fed-link', { configure: '^$', write: '^$', read: '^$' });
      statusWhileCut.connections = await cutLinkConnections(b.home, 'federation', 'Federation link');
      await apis.pa.setPermissions('fed-pa', 'fed-link', linkRights);
      await waitFor(async () => (await linkState(b.home, 'federation')) === 'running', {
        timeoutMs: 60_000,
        what: 'status: the link up again',
      });
      // cut 2: the federation plugin restarted on the node that runs the link (the downstream, node B)
      statusWhileCut.plugin = await restartLinkPlugin('pb', b.home, 'federation', load, mark);
    } finally {
      await load.stop();
    }
    console.info(JSON.stringify({ statusWhileCut }));
    expect(statusWhileCut.connections).not.toMatchObject({ state: 'running' });
    // the first publishes may precede the federation binding; from the first one that crossed, none is lost
    await expectNothingLost('federation', load.resolved, got, marks, sub);
    // removed: the upstream and (the last one) the policy leave the broker
    expect(JSON.parse(await vipctl(b.home, 'federation', 'remove', '127.0.0.1', '--json'))).toEqual({
      removed: ['upstream-127.0.0.1-fed-pa', 'volttron-federation'],
    });
    expect(await linkStates(b.home, 'federation')).toEqual([]);
    void a;
  });

  it('shovel: a pubsub topic moved to the other platform, the link cut and its plugin restarted, nothing lost, status down then up', {
    timeout: 360_000,
  }, async () => {
    const [a, b] = [await platform('pa'), await platform('pb')];
    const pub = await agent('pa', 'pub');
    const sub = await agent('pb', 'sub');
    const got = await countingSubscription(sub, 'alerts', 'shov');
    // pa shovels its alerts to node B; the shovel runs on node A (the source)
    onTestFinished(() => removeShovel(apis.pa, 'fed-pa', 'shovel-127.0.0.1-alerts'));
    const added = JSON.parse(
      await vipctl(
        a.home,
        'shovel',
        'add',
        '127.0.0.1',
        '--port',
        String(nodes.pb.base),
        '--remote-vhost',
        'fed-pb',
        '--user',
        'guest',
        '--password',
        'guest',
        '--topic',
        'pub:alerts',
        '--json',
      ),
    ) as LinkRow[];
    expect(added).toEqual([{ name: 'shovel-127.0.0.1-alerts', change: 'created' }]);
    await waitFor(async () => (await linkState(a.home, 'shovel')) === 'running', { timeoutMs: 30_000, what: 'the shovel running' });
    const load = publishing(pub, 'alerts/fire');
    const { marks, mark } = marking(load);
    const statusWhileCut: Record<string, unknown> = {};
    try {
      await waitFor(() => got.size >= 20, { timeoutMs: 30_000, what: 'shovelled publishes at pb' });
      // cut 1: fed-pb on node B takes no new connections while the shovel's are force-closed; then it does again
      mark('connectionsCut');
      await connectionLimit('pb', 0);
      try {
        statusWhileCut.connections = await cutLinkConnections(a.home, 'shovel', 'Shovel');
      } finally {
        await connectionLimit('pb', undefined);
      }
      await waitFor(async () => (await linkState(a.home, 'shovel')) === 'running', { timeoutMs: 60_000, what: 'the shovel back' });
      // cut 2: the shovel plugin restarted on the node that runs the shovel (the source, node A)
      statusWhileCut.plugin = await restartLinkPlugin('pa', a.home, 'shovel', load, mark);
    } finally {
      await load.stop();
    }
    console.info(JSON.stringify({ statusWhileCut }));
    expect(statusWhileCut.connections).not.toMatchObject({ state: 'running' });
    await expectNothingLost('shovel', load.resolved, got, marks, sub);
    expect(JSON.parse(await vipctl(a.home, 'shovel', 'remove', '127.0.0.1', '--json'))).toEqual({ removed: ['shovel-127.0.0.1-alerts'] });
    void b;
  });

  it('external RPC over the RPC shovels both ways; an unlinked platform or peer fails at once; answers settle only their call', {
    timeout: 180_000,
  }, async () => {
    const [a, b] = [await platform('pa'), await platform('pb')];
    const caller = await agent('pa', 'caller');
    const callee = await agent('pb', 'callee');
    let release: (() => void) | undefined;
    const whoAndWhat = function (this: { caller: string; user: string }, x: unknown) {
      return { x, caller: this.caller, user: this.user };
    };
    callee.rpc.export('echo', whoAndWhat, { params: ['x'] });
    caller.rpc.export('echo', whoAndWhat, { params: ['x'] });
    callee.rpc.export('slow', (x: unknown) => new Promise((r) => (release = () => r(x))), { params: ['x'] });
    // VOLTTRON's RPC shovels, one per direction: pa's caller -> pb's callee, pb's callee -> pa's caller
    const link = (to: Side) => ['--port', String(nodes[to].base), '--user', 'guest', '--password', 'guest', '--json'];
    expect(
      JSON.parse(
        await vipctl(a.home, 'shovel', 'add', '127.0.0.1', '--remote-vhost', 'fed-pb', '--rpc', 'pb:caller:callee', ...link('pb')),
      ),
    ).toEqual([{ name: 'shovel-127.0.0.1-caller', change: 'created' }]);
    expect(
      JSON.parse(
        await vipctl(b.home, 'shovel', 'add', '127.0.0.1', '--remote-vhost', 'fed-pa', '--rpc', 'pa:callee:caller', ...link('pa')),
      ),
    ).toEqual([{ name: 'shovel-127.0.0.1-callee', change: 'created' }]);
    onTestFinished(async () => {
      await vipctl(a.home, 'shovel', 'remove', '127.0.0.1', '--json').catch(() => undefined);
      await vipctl(b.home, 'shovel', 'remove', '127.0.0.1', '--json').catch(() => undefined);
    });
    for (const home of [a.home, b.home])
      await waitFor(async () => (await linkStates(home, 'shovel'))[0]?.state === 'running', {
        timeoutMs: 30_000,
        what: 'the RPC shovel running',
      });
    // both ways, the same API as on ZeroMQ; the callee sees the caller qualified by its platform and no user (nothing crossing a link is proven)
    expect(await caller.rpc.call('callee', 'echo', 'ping', onPlatform('pb'))).toEqual({ x: 'ping', caller: 'pa.caller', user: '' });
    expect(await callee.rpc.request('caller', 'echo', { args: ['pong'], externalPlatform: 'pa' })).toEqual({
      x: 'pong',
      caller: 'pb.callee',
      user: '',
    });
    // an unknown platform, and a peer of pb no shovel carries calls to: PlatformUnreachableError at once (no 30 s timeout)
    for (const [peer, where] of [
      ['callee', 'nowhere'],
      ['other', 'pb'],
    ] as const) {
      const err = await caller.rpc
        .request(peer, 'echo', { args: [1], externalPlatform: where, timeoutMs: 20_000 })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PlatformUnreachableError);
      expect((err as PlatformUnreachableError).platform).toBe(where);
      expect((err as PlatformUnreachableError).reason).toBe('unknown');
    }
    // answers settle only their own call: a spy on pa sees the call's id; answers with that id from
    // another peer of pb, or from pb's callee on another platform name, are ignored and counted
    const model = await amqp.connect(`${nodes.pa.url(1)}/fed-pa`);
    onTestFinished(() => model.close().catch(() => undefined));
    const ch = await model.createChannel();
    const spy = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(spy.queue, 'volttron', 'pb.callee');
    const seen = new Inbox<ConsumeMessage>();
    await ch.consume(spy.queue, (m) => m && seen.push(m), { noAck: true });
    const rejectedBefore = caller.rpc.rejected;
    const slow = caller.rpc.call('callee', 'slow', 'real', onPlatform('pb'));
    const call = await seen.next(() => true, 10_000, 'the call, seen on pa');
    const id = String(call.properties.messageId);
    for (const appId of ['pb.other', 'pc.callee']) {
      ch.publish('volttron', 'pa.caller', Buffer.from(JSON.stringify([JSON.stringify({ jsonrpc: '2.0', result: 'forged', id })])), {
        appId,
        messageId: id,
        type: 'RPC',
        contentType: 'application/json',
        headers: { recipient: 'pa.caller', proto: 'VIP', user: appId },
      });
    }
    await waitFor(() => caller.rpc.rejected >= rejectedBefore + 2, { timeoutMs: 10_000, what: 'the forged answers refused' });
    await waitFor(() => release !== undefined, { timeoutMs: 10_000, what: 'the slow call at pb' });
    release!();
    expect(await slow).toBe('real');
    // impersonation: a message crossing into pa claiming pb's platform.auth is pb's at best, never pa's:
    // auth.update (accepted only from this platform's platform.auth) is refused, the refusal answered
    const refusals = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(refusals.queue, 'volttron', 'pb.platform.auth');
    const refused = new Inbox<ConsumeMessage>();
    await ch.consume(refusals.queue, (m) => m && refused.push(m), { noAck: true });
    const push = { jsonrpc: '2.0', method: 'auth.update', params: [{ 'pb.callee': ['admin'] }], id: 'forged-auth-update' };
    ch.publish('volttron', 'pa.caller', Buffer.from(JSON.stringify([JSON.stringify(push)])), {
      appId: 'pb.platform.auth',
      messageId: 'forged-auth-update',
      type: 'RPC',
      contentType: 'application/json',
      headers: { recipient: 'pa.caller', proto: 'VIP', user: 'pa.platform.auth' },
    });
    const answer = (JSON.parse((await refused.next(() => true, 10_000, 'the refusal')).content.toString('utf8')) as string[])[0]!;
    expect(answer).toContain('accepted only from platform.auth, not from pb.platform.auth');
    // a peer the shovel reaches but that is gone on pb: pb's router answers 113 to pa's caller over the reverse shovel
    await callee.close();
    const gone = await caller.rpc
      .request('callee', 'echo', { args: [1], externalPlatform: 'pb', timeoutMs: 20_000 })
      .catch((e: unknown) => e);
    expect(isVipError(gone, 'VIP_UNREACHABLE')).toBe(true);
    const stats = caller.transportStats()!;
    expect(stats.externalSent).toBeGreaterThanOrEqual(4);
    expect(stats.externalReceived).toBeGreaterThanOrEqual(4);
  });

  it('external RPC over federation both ways (each platform federates the other; no shovel)', { timeout: 120_000 }, async () => {
    await Promise.all([platform('pa'), platform('pb')]);
    const caller = await agent('pa', 'caller');
    const callee = await agent('pb', 'callee');
    callee.rpc.export(
      'echo',
      function (this: { caller: string; user: string }, x: unknown) {
        return { x, caller: this.caller, user: this.user };
      },
      { params: ['x'] },
    );
    const upstream = (side: Side) =>
      parseFederationConfig({
        'federation-upstream': {
          '127.0.0.1': { port: nodes[side].base, 'virtual-host': `fed-${side}`, 'federation-user': 'guest', password: 'guest' },
        },
      });
    await applyFederation(apis.pb, 'fed-pb', upstream('pa'));
    await applyFederation(apis.pa, 'fed-pa', upstream('pb'));
    onTestFinished(async () => {
      await removeFederationUpstream(apis.pb, 'fed-pb', 'upstream-127.0.0.1-fed-pa');
      await removeFederationUpstream(apis.pa, 'fed-pa', 'upstream-127.0.0.1-fed-pb');
    });
    // the queues' bindings reach the other exchange once the links run: until then the call is unroutable (refused at once)
    let answer: unknown;
    await waitFor(
      async () => {
        answer = await caller.rpc
          .request('callee', 'echo', { args: ['fed'], externalPlatform: 'pb', timeoutMs: 10_000 })
          .catch((e: unknown) => e);
        return !(answer instanceof PlatformUnreachableError);
      },
      { timeoutMs: 60_000, what: 'the federation links carrying the call' },
    );
    expect(answer).toEqual({ x: 'fed', caller: 'pa.caller', user: '' });
  });

  it('external RPC over RPC shovels between platforms with per-agent broker users; the far side believes a caller only as its broker proved it (impersonation)', {
    timeout: 180_000,
  }, async () => {
    // proofs required on both platforms (no shared login); each shovel logs in to the remote broker as
    // its caller's user, as VOLTTRON's RPC shovel does, and carries the user_id the caller's broker checked
    const [a, b] = [await ownUsersPlatform('ua', 'pa'), await ownUsersPlatform('ub', 'pb')];
    const caller = await agentOnOwnUser(a, 'caller');
    const callee = await agentOnOwnUser(b, 'callee');
    const served: string[] = [];
    callee.rpc.export(
      'echo',
      function (this: { caller: string; user: string }, x: unknown) {
        served.push(this.caller);
        return { x, caller: this.caller, user: this.user };
      },
      { params: ['x'] },
    );
    caller.rpc.export(
      'echo',
      function (this: { caller: string; user: string }, x: unknown) {
        return { x, caller: this.caller, user: this.user };
      },
      { params: ['x'] },
    );
    await rpcShovel(a, 'pb', 'fedu-ub', 'ub', 'caller', 'callee');
    await rpcShovel(b, 'pa', 'fedu-ua', 'ua', 'callee', 'caller');
    // both ways; the caller as its broker user proved it (user_id == app_id), still no user (no capabilities cross)
    expect(await caller.rpc.call('callee', 'echo', 'ping', onPlatform('ub'))).toEqual({ x: 'ping', caller: 'ua.caller', user: '' });
    expect(await callee.rpc.request('caller', 'echo', { args: ['pong'], externalPlatform: 'ua' })).toEqual({
      x: 'pong',
      caller: 'ub.callee',
      user: '',
    });
    // impersonation: another agent of ua, on its own broker user, publishes calls for ub's callee that
    // name ua's caller, or a caller of another platform, as their sender (app_id). ua's broker lets it
    // (it checks user_id only, which this agent cannot set to another user) and the shovel carries
    // them; ub's callee refuses both: no user_id proves them. (Before: served as from ua.caller / uc.caller.)
    await ensureOwnUser(a, 'evil');
    const evilFile = await readAgentRmqFile(a.home, 'evil');
    const evil = await amqp.connect(`${evilFile!.url}/${encodeURIComponent(evilFile!.vhost)}`);
    onTestFinished(() => evil.close().catch(() => undefined));
    const ch = await evil.createConfirmChannel();
    for (const appId of ['ua.caller', 'uc.caller']) {
      const request = { jsonrpc: '2.0', method: 'echo', params: ['forged'], id: `forged-${appId}` };
      ch.publish('volttron', 'ub.callee', Buffer.from(JSON.stringify([JSON.stringify(request)])), {
        appId,
        messageId: `forged-${appId}`,
        type: 'RPC',
        contentType: 'application/json',
        headers: { recipient: 'ub.callee', proto: 'VIP', user: appId },
      });
    }
    await ch.waitForConfirms();
    await waitFor(() => callee.transportStats()!.externalUnproven === 2, { timeoutMs: 20_000, what: 'both forged calls refused at ub' });
    // a real call still passes; nothing was served but the real calls
    expect(await caller.rpc.call('callee', 'echo', 'after', onPlatform('ub'))).toEqual({ x: 'after', caller: 'ua.caller', user: '' });
    expect(served).toEqual(['ua.caller', 'ua.caller']);
    expect(callee.transportStats()!.externalUnproven).toBe(2);
  });

  it("a remote platform cannot act as this platform's identities across federation (impersonation)", { timeout: 120_000 }, async () => {
    for (const side of ['pa', 'pb'] as const)
      await ensureVolttronBroker({ url: nodes[side].url(1), vhost: `fed-${side}`, management: nodes[side].management(1) });
    await applyFederation(
      apis.pb,
      'fed-pb',
      parseFederationConfig({
        'federation-upstream': {
          '127.0.0.1': { port: nodes.pa.base, 'virtual-host': 'fed-pa', 'federation-user': 'guest', password: 'guest' },
        },
      }),
    );
    onTestFinished(() => removeFederationUpstream(apis.pb, 'fed-pb', 'upstream-127.0.0.1-fed-pa').then(() => undefined));
    const ps = (side: Side, instanceName: string, identity: string, extra: Record<string, unknown> = {}): RmqPubSub => {
      const p = new RmqPubSub({
        url: nodes[side].url(1),
        vhost: `fed-${side}`,
        instanceName,
        identity,
        reconnect: FAST_RECONNECT,
        ...extra,
      });
      onTestFinished(() => p.close());
      return p;
    };
    // pb's listener requires proof, as a platform with per-agent users does
    const listener = ps('pb', 'pb', 'listener', { senderProof: 'required' });
    await listener.open();
    const heard: PubSubDelivery[] = [];
    await listener.subscribe('alarm', (d) => void heard.push(d));
    // a client of pa writes pb's instance name and pb's platform identity into its messages
    const forger = ps('pa', 'pb', 'platform.auth', { brokerUser: false });
    const other = ps('pa', 'pb', 'weather', { brokerUser: false });
    await Promise.all([forger.open(), other.open()]);
    await waitFor(
      async () => {
        await other.publish({ topic: 'alarm/probe', message: 'probe' }, { count: false });
        return heard.length > 0;
      },
      { timeoutMs: 30_000, what: 'the local binding federated to pa' },
    );
    await forger.publish({ topic: 'alarm/fire', message: 'forged' }, { count: false });
    await other.publish({ topic: 'alarm/last', message: 'last' }, { count: false });
    await waitFor(() => heard.some((d) => d.message === 'last'), { timeoutMs: 10_000, what: 'the message after the forged one' });
    // the remote "platform.auth" is refused; a remote "weather" arrives, unproven (no user)
    expect(heard.filter((d) => d.message === 'forged')).toEqual([]);
    expect(listener.stats().spoofed).toBeGreaterThanOrEqual(1);
    expect(heard.find((d) => d.message === 'last')?.sender).toBe('weather');
  });
});
