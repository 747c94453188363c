// docs/protocol.md 1.3 "router probe registers a peer", with CURVE + auth on, against a real vip-platform:
// a ZMQ_PROBE_ROUTER DEALER's probe has the shape of a ZMQ_ROUTER_NOTIFY disconnect ([id, '']).
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { Dealer } from 'zeromq';
import { generateKeyPair, keyToZ85 } from '@vip/protocol';
import { openRawClient, routerStats, startPlatform, type PlatformProcess, type RawVipClient } from '@vip/testing';

type Frames = Buffer[];
const text = (f: Frames): string[] => f.map((x) => x.toString('latin1'));
const isPeerlistEvent = (op: string, who: string) => (f: Frames) =>
  f[4]?.toString() === 'peerlist' && f[5]?.toString() === op && f[6]?.toString() === who;

let platform: PlatformProcess;
let n = 0;

async function watcher(): Promise<RawVipClient> {
  const c = await openRawClient(platform, `probe-watch.${++n}`);
  onTestFinished(() => c.close());
  return c;
}

/** A raw DEALER with `probeRouter: true`, its CURVE key authorized for `identity` as `userId`. */
async function prober(identity: string, userId: string): Promise<Dealer> {
  const keys = generateKeyPair();
  await platform.authorize(keys.public, { identity, userId });
  const d = new Dealer({
    routingId: identity,
    probeRouter: true,
    linger: 0,
    receiveTimeout: 5_000,
    curveServerKey: keyToZ85(platform.serverkey as string),
    curvePublicKey: keyToZ85(keys.public),
    curveSecretKey: keyToZ85(keys.secret),
  });
  onTestFinished(() => d.close());
  d.connect(platform.tcpAddress);
  return d;
}

/**
 * The prober's next message that is not one of the router's liveness pings (the router pings a
 * routing id whose lone empty frame it cannot explain yet, the probe included: packages/zmq README).
 */
async function receiveSkippingPings(d: Dealer): Promise<Frames> {
  for (;;) {
    const f = await d.receive();
    if (!(f[3]?.toString() === 'vip.router.probe' && f[4]?.toString() === 'ping')) return f;
  }
}

async function transportDropped(c: RawVipClient, reason: string): Promise<number> {
  return (await routerStats(c)).transport.dropped[reason] ?? 0;
}

beforeAll(async () => {
  platform = await startPlatform({ instanceName: 'probe' });
});
afterAll(async () => {
  await platform?.close();
});

describe('router probe with authentication on', () => {
  it('registers the probing peer, which keeps its authenticated user id for what it sends after the probe', async () => {
    const w = await watcher();
    const wId = w.identity.toString();
    const unauthenticatedBefore = await transportDropped(w, 'unauthenticated');
    const d = await prober(`prober.${++n}`, 'probe-user');
    const id = d.routingId as string;
    expect(text(await w.receiveMatching(isPeerlistEvent('add', id)))).toEqual(['', 'VIP1', '', '', 'peerlist', 'add', id]);

    await d.send([wId, 'VIP1', '', 'fwd-1', 'probe.test', 'after the probe']);
    const forwarded = await w.receiveMatching((f) => f[3]?.toString() === 'fwd-1');
    expect(text(forwarded)).toEqual([id, 'VIP1', 'probe-user', 'fwd-1', 'probe.test', 'after the probe']);

    // The router can still deliver to it, and it is a known peer.
    await w.sendVip(id, 'probe.test', ['back'], { id: 'fwd-2' });
    expect(text(await receiveSkippingPings(d))).toEqual([wId, 'VIP1', wId, 'fwd-2', 'probe.test', 'back']);
    expect(text(await w.request('peerlist', ['list'], `list.${++n}`))).toContain(id);
    expect(await transportDropped(w, 'unauthenticated')).toBe(unauthenticatedBefore);
  });

  it('a genuine disconnect of a probing peer drops it from the peerlist', async () => {
    const w = await watcher();
    const d = await prober(`prober.${++n}`, 'probe-leaver');
    const id = d.routingId as string;
    await w.receiveMatching(isPeerlistEvent('add', id));
    await d.send(['', 'VIP1', '', 'hello-1', 'hello', 'hello']);
    expect(text(await receiveSkippingPings(d)).slice(4, 6)).toEqual(['hello', 'welcome']);
    d.close();
    expect(text(await w.receiveMatching(isPeerlistEvent('drop', id)))).toEqual(['', 'VIP1', '', '', 'peerlist', 'drop', id]);
    expect(text(await w.request('peerlist', ['list'], `list.${++n}`))).not.toContain(id);
  });
});
