import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { ClosedError, isVipError, type ConnectionStatus, type RouterTransportHandlers, type VipMessage } from '@vip/protocol';
import {
  conformanceRouter,
  describeAgentConnectionConformance,
  describeRouterTransportConformance,
  type ConformanceRouter,
  type TransportConformanceFixture,
} from '@vip/testing';
import { RmqConnection, RmqRouterTransport, RmqSetupError } from '../src/index.js';
import { AMQP_URL, FAST_RECONNECT, freshVhost, Inbox, MANAGEMENT, type TestVhost } from './broker-fixture.js';
import { startScenarioAgent, startScenarioRouter } from './scenario.js';

const b = (s: string) => Buffer.from(s, 'latin1');
let vh: TestVhost;
beforeAll(async () => {
  vh = await freshVhost('transport');
});
afterAll(async () => {
  await vh?.dispose();
});

const base = () => ({ url: AMQP_URL, vhost: vh.vhost, instanceName: vh.instanceName, reconnect: FAST_RECONNECT });

const startRouter = async (peerSweepMs = 0, withManagement = false) => {
  const r = await startScenarioRouter(vh.vhost, {
    instanceName: vh.instanceName,
    peerSweepMs,
    ...(withManagement ? { management: MANAGEMENT } : {}),
  });
  return { router: r.conn, inbound: r.inbound, events: r.events };
};
const agent = async (identity: string) => {
  const a = await startScenarioAgent(vh.vhost, identity, vh.instanceName);
  return { c: a.conn, inbox: a.inbox };
};

const msg = (peer: string, subsystem: string, args: Buffer[], id = 'id-1'): VipMessage => ({
  peer: b(peer),
  user: b(''),
  id: b(id),
  subsystem: b(subsystem),
  args,
});

describe('RMQ transport on a real broker', () => {
  it('carries every byte value of args and ids peer to peer, in order', async () => {
    await startRouter();
    const a = await agent('alice');
    const bob = await agent('bob');
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const n = 40;
    for (let i = 0; i < n; i++) await a.c.send(msg('bob', 'RPC', [all, b(''), b(`{"n":${i}}`), b('caf\xc3\xa9')], `id\x00\xff-${i}`));
    const got = await bob.inbox.count(() => true, n, 10_000, 'forwards');
    expect(got.map((m) => m.id.toString('latin1'))).toEqual(Array.from({ length: n }, (_, i) => `id\x00\xff-${i}`));
    expect(got[0]?.peer.toString()).toBe('alice');
    expect(got[0]?.user.toString()).toBe(`${vh.instanceName}.alice`);
    expect(got[0]?.subsystem.toString()).toBe('RPC');
    expect(got[7]?.args).toEqual([all, b(''), b('{"n":7}'), b('caf\xc3\xa9')]);
  });

  it('hands router-addressed messages to the core and delivers its replies from the router', async () => {
    const { inbound, events } = await startRouter();
    const a = await agent('pinger');
    await a.c.send(msg('', 'ping', [b('ping'), b('\x01\x02')], 'p1'));
    const seen = await inbound.next(undefined, 5_000, 'router message');
    expect(seen.userId).toBe(`${vh.instanceName}.pinger`);
    expect(seen.m.sender.toString()).toBe('pinger');
    expect(seen.m.recipient.length).toBe(0);
    expect(await events.next(undefined, 5_000, 'peer-connected')).toMatchObject({
      type: 'peer-connected',
      user: `${vh.instanceName}.pinger`,
    });
    const reply = await a.inbox.next(undefined, 5_000, 'pong');
    expect(reply.peer.length).toBe(0);
    expect(reply.id.toString()).toBe('p1');
    expect(reply.args).toEqual([b('pong'), b('\x01\x02')]);
  });

  it("resolves deliver() to an absent peer 'unreachable'", async () => {
    const { router } = await startRouter();
    expect(await router.deliver(b('nobody'), b(''), b(''), b('x'), b('ping'), [])).toBe('unreachable');
    expect(await router.deliver(b('no*body'), b(''), b(''), b('x'), b('ping'), [])).toBe('unreachable');
    expect(router.stats().unreachable).toBe(2);
  });

  it('turns a send to an absent peer into error 113 through the core', async () => {
    const { inbound } = await startRouter();
    const a = await agent('lonely');
    await a.c.send(msg('ghost', 'RPC', [b('{}')], 'r9'));
    const dead = await inbound.next((x) => x.m.recipient.toString() === 'ghost', 5_000, 'dead letter');
    expect(dead.m.sender.toString()).toBe('lonely');
    const err = await a.inbox.next((m) => m.subsystem.toString() === 'error', 5_000, 'error 113');
    expect(err.id.toString()).toBe('r9');
    expect(err.args.map(String)).toEqual(['113', 'No route to host', 'ghost', 'RPC']);
  });

  it.each([
    ['passive AMQP checks', false, 'leaver'],
    ['the management API queue list', true, 'leaver2'],
  ])('reports peer-gone when an agent closes (%s)', async (_how, withManagement, name) => {
    const { events } = await startRouter(100, withManagement);
    const a = await agent(name);
    await a.c.send(msg('', 'ping', [b('ping')]));
    await events.next((e) => e.type === 'peer-connected', 5_000, 'peer-connected');
    await a.inbox.next(undefined, 5_000, 'pong');
    await a.c.close();
    const gone = await events.next((e) => e.type === 'peer-gone', 5_000, 'peer-gone');
    expect(gone).toMatchObject({ type: 'peer-gone', reason: 'closed' });
    expect(gone.peer.toString()).toBe(name);
  });

  it('refuses a second agent with the same identity with RmqSetupError', async () => {
    await agent('twin');
    const c = new RmqConnection({ ...base(), identity: 'twin' });
    onTestFinished(() => c.close());
    await expect(c.open()).rejects.toMatchObject({ name: 'RmqSetupError', missing: 'identity' });
  });

  it('names a missing virtual host and a stopped port in its setup errors', async () => {
    const c = new RmqConnection({ ...base(), vhost: 'vip-test-does-not-exist', identity: 'x' });
    onTestFinished(() => c.close());
    const err = await c.open().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RmqSetupError);
    expect(err).toMatchObject({ missing: 'vhost' });
    const d = new RmqConnection({ ...base(), url: 'amqp://guest:guest@127.0.0.1:5679', identity: 'x' });
    onTestFinished(() => d.close());
    await expect(d.open()).rejects.toMatchObject({ missing: 'broker' });
  });

  it('refuses a message above maxMessageBytes without losing the connection', async () => {
    const { router } = await startRouter();
    const small = { ...base(), maxMessageBytes: 1_000 };
    const a = new RmqConnection({ ...small, identity: 'big' });
    onTestFinished(() => a.close());
    await a.open();
    const err = await a.send(msg('big', 'RPC', [Buffer.alloc(2_000)])).catch((e: unknown) => e);
    expect(isVipError(err, 'VIP_PROTOCOL')).toBe(true);
    const inbox = new Inbox<VipMessage>();
    a.onMessage(inbox.push);
    await a.send(msg('big', 'RPC', [b('fits')], 'ok-1'));
    expect((await inbox.next(undefined, 5_000, 'small message to self')).id.toString()).toBe('ok-1');
    const limited = new RmqRouterTransport({ ...small, instanceName: 'lim' });
    onTestFinished(() => limited.close());
    await limited.start({ message: () => undefined });
    expect(await limited.deliver(b('big'), b(''), b(''), b(''), b('ping'), [Buffer.alloc(2_000)])).toBe('again');
    expect(limited.stats()).toMatchObject({ oversize: 1, again: 1 });
    expect(router.stats().again).toBe(0);
  });

  it("holds at most maxPendingBytes of deliveries awaiting the broker's confirm; beyond, deliver answers again", async () => {
    const a = await agent('pending.sink');
    const limited = new RmqRouterTransport({ ...base(), instanceName: vh.instanceName, maxPendingBytes: 10_000 });
    onTestFinished(() => limited.close());
    await limited.start({ message: () => undefined });
    // three bodies of ~4 KB (JSON of printable bytes) in one tick: none is confirmed when the third is asked for
    const results = await Promise.all(
      [0, 1, 2].map((i) => limited.deliver(b('pending.sink'), b(''), b(''), b(`p${i}`), b('RPC'), [Buffer.alloc(4_000, 0x61)])),
    );
    expect(results).toEqual(['ok', 'ok', 'again']);
    expect(limited.stats()).toMatchObject({ backlog: 1, again: 1, pendingBytes: 0 });
    expect((await a.inbox.next(undefined, 5_000, 'first delivery')).id.toString()).toBe('p0');
    expect(await limited.deliver(b('pending.sink'), b(''), b(''), b('p3'), b('RPC'), [Buffer.alloc(4_000, 0x61)])).toBe('ok');
  });

  it('batches writes per tick and still delivers in order and at once: a burst of 300 in one tick, then a lone message', async () => {
    await startRouter();
    const a = await agent('burster');
    const bob = await agent('burst.sink');
    const n = 300;
    await Promise.all(Array.from({ length: n }, (_, i) => a.c.send(msg('burst.sink', 'RPC', [b(`{"n":${i}}`)], `b-${i}`))));
    const got = await bob.inbox.count((m) => m.id.toString().startsWith('b-'), n, 10_000, 'the burst');
    expect(got.map((m) => m.id.toString())).toEqual(Array.from({ length: n }, (_, i) => `b-${i}`));
    // nothing else is written after it: a corked write left waiting for more would never arrive
    await a.c.send(msg('burst.sink', 'RPC', [b('{}')], 'lone'));
    await bob.inbox.next((m) => m.id.toString() === 'lone', 5_000, 'the lone message');
  });

  it('flushes what was sent right before close(): channels close before the connection', async () => {
    await startRouter();
    const bob = await agent('flush.sink');
    for (let round = 0; round < 5; round++) {
      const a = await agent(`flusher.${round}`);
      // not awaited on purpose: the publish is still in amqplib's channel buffer when close() starts
      const sent = a.c.send(msg('flush.sink', 'RPC', [b('{}')], `last-${round}`));
      await a.c.close();
      await sent;
      await bob.inbox.next((m) => m.id.toString() === `last-${round}`, 5_000, `the message sent before close (round ${round})`);
    }
  });

  it('is closed for good after close(): sends reject, deliveries are unreachable, close is idempotent', async () => {
    const { router } = await startRouter();
    const a = await agent('closer');
    const statuses: ConnectionStatus[] = [];
    a.c.onStatus((s) => statuses.push(s));
    await Promise.all([a.c.close(), a.c.close()]);
    await a.c.close();
    const err = await a.c.send(msg('x', 'ping', [])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClosedError);
    expect(isVipError(err, 'VIP_CLOSED')).toBe(true);
    expect(statuses).toEqual([{ type: 'closed' }]);
    await router.close();
    await router.close();
    expect(await router.deliver(b('closer'), b(''), b(''), b(''), b('ping'), [])).toBe('unreachable');
  });
});

/** The one transport contract suite on the real broker: this file's vhost, one instance name per router. */
let routers = 0;
const fixture: TransportConformanceFixture = {
  name: 'rmq (RabbitMQ 3.10, amqp on loopback)',
  capabilities: { peerEvents: true },
  async startRouter(handlers: RouterTransportHandlers): Promise<ConformanceRouter> {
    const link = { url: AMQP_URL, vhost: vh.vhost, instanceName: `c${++routers}`, reconnect: FAST_RECONNECT };
    const transport = new RmqRouterTransport({ ...link, peerSweepMs: 200 });
    await transport.start(handlers);
    return conformanceRouter(transport, (identity) => new RmqConnection({ ...link, identity }));
  },
};

describeRouterTransportConformance(fixture);
describeAgentConnectionConformance(fixture);
