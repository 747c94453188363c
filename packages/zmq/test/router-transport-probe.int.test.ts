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
  const transport = new ZmqRouterTransport({
    addresses: ['tcp://127.0.0.1:0'],
    context,
    ...(auth ? { secretKey: encodeKey(server.secretKey) } : {}),
    ...rest,
  });
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

  it('auth on: a silent probing peer stays connected (the liveness probes find it), and is reported gone once it leaves', async () => {
    const { transport, seen, dealer } = await router({ auth: true });
    const keys = curveKeyPair();
    const d = dealer('quiet', keys);
    await waitFor(() => (transport.stats().attribution['probes'] ?? 0) >= 2 && transport.stats().suspect === 0, {
      what: 'the probe explained',
    });
    expect(seen.events).toEqual([`connected:quiet:${userOf(keys)}`]);
    expect(transport.userFor('quiet')).toBe(userOf(keys));
    // The router's liveness probes are VIP pings from the router.
    expect((await d.receive()).map(String)).toEqual(['', 'VIP1', '', 'vip.router.probe', 'ping', 'ping']);
    d.close();
    await waitFor(() => seen.events.includes('gone:quiet'), { what: 'peer-gone after the disconnect' });
    expect(transport.userFor('quiet')).toBeUndefined();
    expect(transport.stats()).toMatchObject({ connectedPeers: 0, suspect: 0 });
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

  it('auth on: a peer sending lone empty frames mid-session keeps its user while no admission is in flight, and is never forgotten on a timer', async () => {
    const { transport, seen, dealer } = await router({ auth: true });
    const keys = curveKeyPair();
    const d = dealer('chatty', keys, false);
    await d.send(ping('1'));
    await waitFor(() => seen.messages.length === 1, { what: 'first ping' });
    for (let i = 0; i < 3; i++) await d.send(['']);
    await d.send(ping('2'));
    await waitFor(() => seen.messages.length === 2, { what: 'the ping after the empty frames, held until they were explained' });
    expect(seen.messages.map((m) => m.user)).toEqual([userOf(keys), userOf(keys)]);
    expect(seen.events).toEqual([`connected:chatty:${userOf(keys)}`]);
    expect(transport.stats()).toMatchObject({ connectedPeers: 1, suspect: 0 });
  });

  it('auth off: a probe then a message registers once; a disconnect after traffic is reported at once', async () => {
    const { seen, dealer } = await router({ auth: false });
    const d = dealer('plain', curveKeyPair());
    await d.send(ping('3'));
    await waitFor(() => seen.messages.length === 1, { what: 'the ping' });
    expect(seen.messages[0]?.user).toBe('plain');
    d.close();
    await waitFor(() => seen.events.length === 2, { what: 'peer-gone' });
    expect(seen.events).toEqual(['connected:plain:plain', 'gone:plain']);
  });
});
