import { describe, expect, it, onTestFinished } from 'vitest';
import { Context, curveKeyPair, Dealer } from 'zeromq';
import { encodeKey, textFrame, type RoutedMessage, type RouterTransportHandlers, type UnroutableReason } from '@vip/protocol';
import { waitFor } from '@vip/testing';
import { AUTH_REFUSED_REASON, ZmqConnection } from '../src/connection.js';
import { ZmqRouterTransport } from '../src/router-transport.js';
import { TestZap, type TestZapDecision } from './support/test-zap.js';

let n = 0;
const ipc = (): string => `ipc://@/vip-router-test-${process.pid}-${++n}`;

interface Seen {
  readonly messages: Array<{ message: RoutedMessage; user: string }>;
  readonly unroutable: UnroutableReason[];
  readonly handlers: RouterTransportHandlers;
}

function recorder(): Seen {
  const messages: Seen['messages'] = [];
  const unroutable: UnroutableReason[] = [];
  return {
    messages,
    unroutable,
    handlers: { message: (message, user) => messages.push({ message, user }), unroutable: (reason) => unroutable.push(reason) },
  };
}

async function started(
  options: ConstructorParameters<typeof ZmqRouterTransport>[0],
  seen = recorder(),
): Promise<{ transport: ZmqRouterTransport; seen: Seen }> {
  const transport = new ZmqRouterTransport(options);
  onTestFinished(() => transport.close());
  await transport.start(seen.handlers);
  return { transport, seen };
}

function rawDealer(endpoint: string, identity: string, options: ConstructorParameters<typeof Dealer>[0] = {}): Dealer {
  const d = new Dealer({ routingId: identity, linger: 0, ...options });
  onTestFinished(() => d.close());
  d.connect(endpoint);
  return d;
}

describe('ZmqRouterTransport', () => {
  it('reports the endpoints it bound and a fresh routing id per transport', async () => {
    const { transport: a } = await started({ addresses: ['tcp://127.0.0.1:0', ipc()] });
    const { transport: b } = await started({ addresses: ['tcp://127.0.0.1:*'] });
    expect(a.endpoints[0]).toMatch(/^tcp:\/\/127\.0\.0\.1:[1-9]\d*$/);
    expect(a.endpoints[1]).toMatch(/^ipc:\/\/@\/vip-router-test-/);
    expect(b.endpoints[0]).toMatch(/^tcp:\/\/127\.0\.0\.1:[1-9]\d*$/);
    expect(a.routerIdentity).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.routerIdentity).not.toBe(b.routerIdentity);
  });

  it('turns a bind failure into a TransportError naming the address and the cause', async () => {
    const { transport: first } = await started({ addresses: ['tcp://127.0.0.1:0'] });
    const taken = first.endpoints[0] as string;
    const second = new ZmqRouterTransport({ addresses: [taken] });
    onTestFinished(() => second.close());
    const err = await second.start(recorder().handlers).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'VIP_TRANSPORT' });
    expect((err as Error).message).toContain(taken);
    expect((err as Error).message).toContain('address already in use');
    expect(await second.deliver(textFrame('x'), textFrame(''), textFrame(''), textFrame(''), textFrame('ping'), [])).toBe('unreachable');
  });

  it('drops and counts frame sets that are not VIP messages, and keeps routing', async () => {
    // 24 bytes for a whole message: each frame below passes libzmq's per-frame limit (ZMQ_MAXMSGSIZE)
    const { transport, seen } = await started({ addresses: [ipc()], maxMessageBytes: 24 });
    const d = rawDealer(transport.endpoints[0] as string, 'raw');
    await d.send(['a', 'b']);
    await d.send(['', 'VIP2', '', 'id', 'ping']);
    await d.send(['', 'VIP1', '', 'id', '  ']);
    await d.send(['', 'VIP1', '', 'id', 'ping', 'x'.repeat(17)]);
    await d.send(['', 'VIP1', '', 'id', 'ping', 'ok']);
    await waitFor(() => seen.messages.length === 1, { what: 'the valid message' });
    expect(seen.unroutable).toEqual(['too few frames', 'bad VIP signature', 'empty subsystem', 'oversize message']);
    expect(transport.stats().dropped).toMatchObject({
      'too few frames': 1,
      'bad VIP signature': 1,
      'empty subsystem': 1,
      'oversize message': 1,
    });
    expect(seen.messages[0]?.user).toBe('raw');
  });

  it("resolves 'again' when a peer's queue is full", async () => {
    const { transport, seen } = await started({ addresses: [ipc()], sendHighWaterMark: 4 });
    const d = rawDealer(transport.endpoints[0] as string, 'slow', { receiveHighWaterMark: 4 });
    await d.send(['', 'VIP1', '', 'id', 'ping']);
    await waitFor(() => seen.messages.length === 1);
    const payload = Buffer.alloc(64 * 1024);
    let result = 'ok';
    for (let i = 0; i < 5000 && result === 'ok'; i++) {
      result = await transport.deliver(textFrame('slow'), textFrame(''), textFrame(''), textFrame(String(i)), textFrame('bulk'), [payload]);
    }
    expect(result).toBe('again');
    expect(transport.stats().again).toBe(1);
  });
});

describe('ZmqRouterTransport memory: a peer that does not read', () => {
  const bulk = (transport: ZmqRouterTransport, to: string, i: number, payload: Buffer) =>
    transport.deliver(textFrame(to), textFrame(''), textFrame(''), textFrame(String(i)), textFrame('bulk'), [payload]);

  it('queues behind its full pipe, in order and bounded in bytes, then delivers everything it took', async () => {
    const { transport, seen } = await started({
      addresses: [ipc()],
      sendHighWaterMark: 2,
      peerQueueBytes: 256 * 1024,
      peerQueueMessages: 1000,
    });
    const d = rawDealer(transport.endpoints[0] as string, 'slow', { receiveHighWaterMark: 1 });
    await d.send(['', 'VIP1', '', 'id', 'ping']);
    await waitFor(() => seen.messages.length === 1);
    const payload = Buffer.alloc(64 * 1024);
    let taken = 0;
    for (let i = 0; i < 5000 && (await bulk(transport, 'slow', i, payload)) === 'ok'; i++) taken++;
    const stats = transport.stats();
    expect(stats.again).toBe(1);
    expect(stats.queued.peers).toBe(1);
    expect(stats.queued.messages).toBeGreaterThan(0);
    expect(stats.queued.bytes).toBeLessThanOrEqual(256 * 1024);
    expect(stats.limits).toMatchObject({ sendHighWaterMark: 2, peerQueueBytes: 256 * 1024 });
    const ids: number[] = [];
    while (ids.length < taken) ids.push(Number((await d.receive())[3]?.toString()));
    expect(ids).toEqual(Array.from({ length: taken }, (_, i) => i));
    await waitFor(() => transport.stats().queued.peers === 0, { what: 'the queue drained' });
  });

  it('drops the queue of a peer that leaves, at once', async () => {
    const { transport, seen } = await started({ addresses: [ipc()], sendHighWaterMark: 2, peerQueueBytes: 256 * 1024 });
    const d = rawDealer(transport.endpoints[0] as string, 'leaving', { receiveHighWaterMark: 1 });
    await d.send(['', 'VIP1', '', 'id', 'ping']);
    await waitFor(() => seen.messages.length === 1);
    const payload = Buffer.alloc(64 * 1024);
    for (let i = 0; i < 5000 && (await bulk(transport, 'leaving', i, payload)) === 'ok'; i++);
    const queued = transport.stats().queued.messages;
    expect(queued).toBeGreaterThan(0);
    d.close();
    await waitFor(() => transport.stats().queued.peers === 0, { timeoutMs: 10_000, what: 'the queue of the peer that left dropped' });
    expect(transport.stats().queued).toMatchObject({ bytes: 0, messages: 0, dropped: { 'peer gone': queued } });
  });

  it('refuses a frame over maxMessageBytes unread: libzmq closes that connection, the others go on', async () => {
    const { transport, seen } = await started({ addresses: [ipc()], maxMessageBytes: 64 * 1024 });
    const big = rawDealer(transport.endpoints[0] as string, 'big');
    const other = rawDealer(transport.endpoints[0] as string, 'other');
    await big.send(['', 'VIP1', '', 'huge', 'ping', Buffer.alloc(1024 * 1024)]);
    await big.send(['', 'VIP1', '', 'after', 'ping']);
    await other.send(['', 'VIP1', '', 'other', 'ping']);
    await waitFor(() => seen.messages.some((m) => m.message.id.toString() === 'other'));
    await waitFor(() => seen.messages.some((m) => m.message.id.toString() === 'after'), {
      timeoutMs: 10_000,
      what: 'the big sender, reconnected',
    });
    expect(seen.messages.map((m) => m.message.id.toString())).not.toContain('huge');
  });
});

describe('ZmqRouterTransport with authentication', () => {
  const pinned = curveKeyPair();
  const impostor = curveKeyPair();
  const refused = curveKeyPair();
  const late = curveKeyPair();
  const decide = (key: string): TestZapDecision => {
    if (key === encodeKey(late.publicKey)) return { userId: 'carol' };
    if (key === encodeKey(pinned.publicKey)) return { userId: 'alice', identity: 'alice.agent', capabilities: { edit_config: null } };
    if (key === encodeKey(impostor.publicKey)) return { userId: 'bob', identity: 'bob.agent' };
    if (key === encodeKey(refused.publicKey)) return { refuse: true };
    return {};
  };

  async function curveRouter() {
    const server = curveKeyPair();
    const context = new Context();
    const seen = recorder();
    const transport = new ZmqRouterTransport({ addresses: ['tcp://127.0.0.1:0'], secretKey: encodeKey(server.secretKey), context });
    onTestFinished(() => transport.close());
    const zap = await TestZap.start(context, transport, decide);
    onTestFinished(() => zap.close());
    await transport.start(seen.handlers);
    const connect = (identity: string, keys: { publicKey: string; secretKey: string }) => {
      const c = new ZmqConnection({
        identity,
        address: transport.endpoints[0] as string,
        serverKey: encodeKey(server.publicKey),
        publicKey: keys.publicKey,
        secretKey: keys.secretKey,
      });
      onTestFinished(() => c.close());
      return c;
    };
    return { transport, seen, connect };
  }

  const ping = { peer: textFrame(''), user: textFrame(''), id: textFrame('1'), subsystem: textFrame('ping'), args: [] };

  it('routes a peer under its admission user and exposes its capabilities', async () => {
    const { transport, seen, connect } = await curveRouter();
    const c = connect('alice.agent', pinned);
    await c.open();
    await c.send(ping);
    await waitFor(() => seen.messages.length === 1, { what: 'alice ping' });
    expect(seen.messages[0]?.user).toBe('alice');
    expect(transport.userFor('alice.agent')).toBe('alice');
    expect(transport.capabilitiesFor('alice.agent')).toEqual({ edit_config: null });
  });

  it('gives no user to a connection whose key pins another identity, and drops what it sends', async () => {
    const { transport, seen, connect } = await curveRouter();
    const c = connect('not-bob', impostor);
    await c.open();
    await c.send(ping);
    await waitFor(() => transport.stats().dropped['unauthenticated'] === 1, { what: 'dropped message' });
    expect(seen.messages).toHaveLength(0);
    expect(transport.userFor('not-bob')).toBeUndefined();
    expect(transport.stats().attribution['connect without admission']).toBe(1);
  });

  it('routes what a connection sends right after its handshake under its user (held until its round closes, never dropped)', async () => {
    const { transport, seen, connect } = await curveRouter();
    const c = connect('carol.agent', late);
    await c.open();
    await Promise.all([c.send(ping), c.send(ping), c.send(ping)]);
    await waitFor(() => seen.messages.length === 3, { what: 'the three pings' });
    expect(seen.messages.map((m) => m.user)).toEqual(['carol', 'carol', 'carol']);
    expect(transport.stats().dropped['unauthenticated']).toBeUndefined();
  });

  it('refused by ZAP: open() rejects with an AuthError that points at auth.json', async () => {
    const { connect } = await curveRouter();
    const c = connect('mallory', refused);
    const statuses: string[] = [];
    c.onStatus((s) => statuses.push(s.type === 'disconnected' ? `disconnected:${s.reason ?? ''}` : s.type));
    await expect(c.open()).rejects.toMatchObject({ code: 'VIP_AUTH' });
    expect(statuses).toContain(`disconnected:${AUTH_REFUSED_REASON}`);
  });
});
