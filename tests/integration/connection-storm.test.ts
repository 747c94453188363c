// Connection storm (issue 10, item 8) against a real platform process, scaled down (300): a
// fleet of pinned keys connecting at once is welcomed in full, a valid client started in the
// middle is welcomed too, every peer already there hears of every newcomer (peerlist add) and of
// every leaver (drop), and a burst of short-lived connections leaves nothing behind. Correctness
// only: the figures are tools/bench/storm.mjs's (BENCHMARKS.md).
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { Context, Dealer } from 'zeromq';
import { generateKeyPair, keyToZ85, type CurveKeyPair } from '@vip/protocol';
import { openRawClient, routerStats, startPlatform, waitFor, type PlatformProcess, type RawVipClient } from '@vip/testing';

const FLEET = 300;
const BURST = 100;

interface StormClient {
  readonly identity: string;
  readonly dealer: Dealer;
  welcomed: boolean;
}

let platform: PlatformProcess;
const context = new Context({ maxSockets: 4 * (FLEET + BURST) });
const keys = new Map<string, CurveKeyPair>();
const fleet = Array.from({ length: FLEET }, (_, i) => `fleet.${i}`);
const burst = Array.from({ length: BURST }, (_, i) => `burst.${i}`);

/** Adds one pinned auth.json entry per identity in one write, and waits for the platform to reload it. */
async function admitAll(identities: readonly string[]): Promise<void> {
  const path = join(platform.home, 'auth.json');
  const data = JSON.parse(await readFile(path, 'utf8')) as { allow: unknown[] };
  for (const identity of identities) {
    const pair = generateKeyPair();
    keys.set(identity, pair);
    data.allow.push({
      domain: null,
      address: null,
      mechanism: 'CURVE',
      credentials: pair.public,
      user_id: identity,
      identity,
      capabilities: {},
      enabled: true,
    });
  }
  await writeFile(`${path}.tmp`, JSON.stringify(data), { mode: 0o600 });
  await rename(`${path}.tmp`, path);
  await platform.authLoaded({ timeoutMs: 15_000 });
}

/** A raw CURVE DEALER saying hello at once; `welcomed` turns true on its welcome; `onWelcome` runs then. */
function stormClient(identity: string, onWelcome: (c: StormClient) => void = () => undefined): StormClient {
  const pair = keys.get(identity) as CurveKeyPair;
  const dealer = new Dealer({
    context,
    routingId: identity,
    linger: 0,
    sendTimeout: 0,
    curveServerKey: keyToZ85(platform.serverkey as string),
    curvePublicKey: keyToZ85(pair.public),
    curveSecretKey: keyToZ85(pair.secret),
  });
  const c: StormClient = { identity, dealer, welcomed: false };
  onTestFinished(() => dealer.close());
  dealer.connect(platform.tcpAddress);
  void dealer.send(['', 'VIP1', '', 'storm.hello', 'hello', 'hello']).catch(() => undefined);
  void (async () => {
    for (;;) {
      let f: Buffer[];
      try {
        f = await dealer.receive();
      } catch {
        return;
      }
      if (f[3]?.toString() === 'storm.hello' && f[5]?.toString() === 'welcome') {
        c.welcomed = true;
        onWelcome(c);
      }
    }
  })();
  return c;
}

/** The peerlist events a raw client received, by op and peer. */
function peerlistEvents(c: RawVipClient): Array<[string, string]> {
  return c.inbox
    .drain()
    .filter((f) => f[4]?.toString() === 'peerlist')
    .map((f) => [f[5]?.toString() ?? '', f[6]?.toString() ?? '']);
}

beforeAll(async () => {
  platform = await startPlatform({ instanceName: 'storm', logLevel: 'info' });
  await admitAll([...fleet, ...burst, 'storm.valid', 'storm.late']);
});
afterAll(async () => {
  await platform?.close();
});

describe('connection storm', () => {
  it(`a fleet of ${FLEET} pinned keys at once: all welcomed, a valid client in the middle too, every peer told of every other`, async () => {
    const watcher = await openRawClient(platform, 'storm.watch');
    onTestFinished(() => watcher.close());
    const baseline = (await routerStats(watcher)).router.peers;
    const clients = fleet.map((id) => stormClient(id));
    await waitFor(() => clients.filter((c) => c.welcomed).length >= FLEET / 2, { timeoutMs: 60_000, what: 'half the fleet welcomed' });
    const valid = stormClient('storm.valid');
    await waitFor(() => valid.welcomed, { timeoutMs: 10_000, what: 'the valid client welcomed during the storm' });
    await waitFor(() => clients.every((c) => c.welcomed), { timeoutMs: 60_000, what: 'the whole fleet welcomed' });

    // Every peer known before a newcomer hears `peerlist add` for it, eventually (paced, low priority).
    const seen: Array<[string, string]> = [];
    await waitFor(
      () => {
        seen.push(...peerlistEvents(watcher));
        return fleet.every((id) => seen.some(([op, p]) => op === 'add' && p === id));
      },
      { timeoutMs: 60_000, intervalMs: 100, what: 'the watcher told of the whole fleet' },
    );
    // A late-comer hears of nobody before it (it lists peers itself), and everybody hears of it.
    const late = stormClient('storm.late');
    await waitFor(() => late.welcomed, { timeoutMs: 10_000, what: 'late client welcomed' });
    expect((await watcher.request('peerlist', ['list'], 'list-1')).map((f) => f.toString())).toEqual(
      expect.arrayContaining([...fleet, 'storm.late']),
    );

    for (const c of [...clients, valid, late]) c.dealer.close();
    await waitFor(
      () => {
        seen.push(...peerlistEvents(watcher));
        return fleet.every((id) => seen.some(([op, p]) => op === 'drop' && p === id));
      },
      { timeoutMs: 60_000, intervalMs: 100, what: 'the watcher told of every leaver' },
    );
    const stats = await waitFor(
      async () => {
        const s = await routerStats(watcher);
        return s.router.peers <= baseline ? s : undefined;
      },
      { timeoutMs: 30_000, what: 'the router back to its own peers' },
    );
    expect(stats.transport.dropped['unauthenticated'] ?? 0).toBe(0);
  });

  it(`a burst of ${BURST} short-lived connections: each welcomed, a valid client during it too, nothing left behind`, async () => {
    const watcher = await openRawClient(platform, 'storm.watch2');
    onTestFinished(() => watcher.close());
    const baseline = (await routerStats(watcher)).router.peers;
    const clients = burst.map((id) => stormClient(id, (c) => c.dealer.close()));
    const valid = stormClient('storm.valid');
    await waitFor(() => valid.welcomed, { timeoutMs: 10_000, what: 'the valid client welcomed during the burst' });
    valid.dealer.close();
    await waitFor(() => clients.every((c) => c.welcomed), { timeoutMs: 60_000, what: 'every short-lived client welcomed' });
    await waitFor(
      async () => {
        const s = await routerStats(watcher);
        return s.router.peers <= baseline && (s.router as { peerlistBacklog?: number }).peerlistBacklog === 0;
      },
      { timeoutMs: 30_000, what: 'the router back to its own peers, peerlist sent' },
    );
    // Each short-lived peer was either never mentioned to the watcher (came and went before it was
    // told) or mentioned as added and then dropped: never left as present.
    const events = peerlistEvents(watcher);
    for (const id of burst) {
      const ops = events.filter(([, p]) => p === id).map(([op]) => op);
      expect([[], ['add', 'drop']]).toContainEqual(ops);
    }
  });
});
