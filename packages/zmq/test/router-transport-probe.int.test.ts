// Router probes (ZMQ_PROBE_ROUTER) versus ZMQ_ROUTER_NOTIFY disconnects: same `[id, '']` shape.
import { describe, expect, it, onTestFinished } from 'vitest';
import { Context, curveKeyPair, Dealer } from 'zeromq';
import { encodeKey, frameText, type PeerEvent, type RoutedMessage, type RouterTransportHandlers } from '@vip/protocol';
import { waitFor } from '@vip/testing';
import { ZmqRouterTransport, type ZmqRouterTransportOptions } from '../src/router-transport.js';
import { TestZap } from './support/test-zap.js';

interface Seen {
  readonly messages: Array<{ message: RoutedMessage; user: string }>;
  /** `connected:<peer>:<user>` / `gone:<peer>`, in order. */
  readonly events: string[];
  readonly handlers: RouterTransportHandlers;
}

function recorder(): Seen {
  const messages: Seen['messages'] = [];
  const events: string[] = [];
  const peerEvent = (e: PeerEvent): void => {
    events.push(e.type === 'peer-connected' ? `connected:${frameText(e.peer)}:${e.user}` : `gone:${frameText(e.peer)}`);
  };
  return { messages, events, handlers: { message: (message, user) => messages.push({ message, user }), peerEvent } };
}

type Keys = { publicKey: string; secretKey: string };

/** A transport over tcp; with `auth`, CURVE + a test ZAP responder admitting every key as `user-<key prefix>`. */
async function router(options: Partial<ZmqRouterTransportOptions> & { auth: boolean }) {
  const server = curveKeyPair();
  const context = new Context();
  const seen = recorder();
  const { auth, ...rest } = options;
  const transport = new ZmqRouterTransport({ addresses: ['tcp://127.0.0.1:0'], context, ...(auth ? { secretKey: encodeKey(server.secretKey) } : {}), ...rest });
  onTestFinished(() => transport.close());
  if (auth) {
    const zap = await TestZap.start(context, transport);
    onTestFinished(() => zap.close());
  }
  await transport.start(seen.handlers);
  /** A raw DEALER; `probeRouter` makes it send `['']` on connect (the router reads `[id, '']`). */
  const dealer = (identity: string, keys: Keys, probeRouter = true): Dealer => {
    const curve = auth ? { curveServerKey: server.publicKey, curvePublicKey: keys.publicKey, curveSecretKey: keys.secretKey } : {};
    const d = new Dealer({ context, routingId: identity, linger: 0, probeRouter, ...curve });
    onTestFinished(() => d.close());
    d.connect(transport.endpoints[0] as string);
    return d;
  };
  return { transport, seen, dealer };
}

const userOf = (keys: Keys): string => `user-${encodeKey(keys.publicKey).slice(0, 8)}`;
const ping = (id: string): string[] => ['', 'VIP1', '', id, 'ping', 'ping'];

describe('ZmqRouterTransport: router probes and disconnect notifications', () => {
  it('auth on: a probing peer keeps its admission, is never dropped while it talks, and its disconnect is seen', async () => {
    const { transport, seen, dealer } = await router({ auth: true });
    const keys = curveKeyPair();
    const d = dealer('prober', keys);
    await d.send(ping('1'));
    await waitFor(() => seen.messages.length === 1, { what: 'the ping after the probe' });
    expect(seen.messages[0]?.user).toBe(userOf(keys));
    expect(transport.stats().dropped['unauthenticated']).toBeUndefined();
    expect(seen.events).toEqual([`connected:prober:${userOf(keys)}`]);
    d.close();
    await waitFor(() => seen.events.length === 2, { what: 'peer-gone after the disconnect' });
    expect(seen.events[1]).toBe('gone:prober');
  });

  it('auth on: a silent probing peer is reported gone after the grace, and announced again (same user) when it talks', async () => {
    const { transport, seen, dealer } = await router({ auth: true, possiblyGoneGraceMs: 50 });
    const keys = curveKeyPair();
    const d = dealer('quiet', keys);
    await waitFor(() => seen.events.includes('gone:quiet'), { what: 'peer-gone of the silent peer' });
    expect(transport.stats()).toMatchObject({ possiblyGone: 1, connectedPeers: 0 });
    expect(transport.userFor('quiet')).toBe(userOf(keys));
    await d.send(ping('2'));
    await waitFor(() => seen.messages.length === 1, { what: 'the ping of the silent peer' });
    expect(seen.messages[0]?.user).toBe(userOf(keys));
    expect(seen.events).toEqual([`connected:quiet:${userOf(keys)}`, 'gone:quiet', `connected:quiet:${userOf(keys)}`]);
    expect(transport.stats()).toMatchObject({ possiblyGone: 0, connectedPeers: 1 });
  });

  it('auth on: a reconnect with the same routing id passes ZAP again and never inherits the old admission', async () => {
    const { seen, dealer } = await router({ auth: true });
    const first = curveKeyPair();
    const second = curveKeyPair();
    const a = dealer('same', first, false);
    await a.send(ping('a'));
    await waitFor(() => seen.messages.length === 1, { what: 'first connection ping' });
    a.close();
    await waitFor(() => seen.events.includes('gone:same'), { what: 'first connection gone' });
    const b = dealer('same', second, false);
    await b.send(ping('b'));
    await waitFor(() => seen.messages.length === 2, { what: 'second connection ping' });
    expect(seen.messages.map((m) => m.user)).toEqual([userOf(first), userOf(second)]);
  });

  it('the possibly-gone table is capped: the oldest is forgotten with its admission', async () => {
    const { transport, seen, dealer } = await router({ auth: true, maxPossiblyGone: 1 });
    const oldKeys = curveKeyPair();
    const old = dealer('old', oldKeys);
    await waitFor(() => transport.stats().possiblyGone === 1 && transport.userFor('old') !== undefined, { what: 'old probed and admitted' });
    dealer('new', curveKeyPair());
    await waitFor(() => seen.events.includes('gone:old'), { what: 'old forgotten' });
    expect(transport.userFor('old')).toBeUndefined();
    await old.send(ping('late'));
    await waitFor(() => transport.stats().dropped['unauthenticated'] === 1, { what: 'old peer now unauthenticated' });
    expect(seen.messages).toHaveLength(0);
  });

  it('a possibly-gone peer silent past the TTL is forgotten with its admission', async () => {
    const { transport, seen, dealer } = await router({ auth: true, possiblyGoneGraceMs: 20, possiblyGoneTtlMs: 100 });
    const d = dealer('lapsed', curveKeyPair());
    await waitFor(() => seen.events.includes('gone:lapsed'), { what: 'peer-gone after the grace' });
    await waitFor(() => transport.stats().possiblyGone === 0, { what: 'forgotten after the TTL' });
    expect(transport.userFor('lapsed')).toBeUndefined();
    await d.send(ping('too late'));
    await waitFor(() => transport.stats().dropped['unauthenticated'] === 1, { what: 'its message dropped' });
    expect(seen.events).toHaveLength(2);
  });

  it('auth off: a probe then a message registers once; a disconnect after traffic is reported at once', async () => {
    const { seen, dealer } = await router({ auth: false, possiblyGoneGraceMs: 60_000 });
    const d = dealer('plain', curveKeyPair());
    await d.send(ping('3'));
    await waitFor(() => seen.messages.length === 1, { what: 'the ping' });
    expect(seen.messages[0]?.user).toBe('plain');
    d.close();
    await waitFor(() => seen.events.length === 2, { what: 'peer-gone' });
    expect(seen.events).toEqual(['connected:plain:plain', 'gone:plain']);
  });
});
