// Randomized robustness: 100,000 random and mutated frame sets thrown at a running platform over
// tcp+CURVE, then the platform must still route correctly and its drop counters must have moved.
// Seeded (VIP_FUZZ_SEED to reproduce), bounded in count and time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRawClient, routerStats, seededPrng, startPlatform, type PlatformProcess, type Prng, type RawVipClient } from '@vip/testing';

const TOTAL = 100_000;
const SEED = Number(process.env.VIP_FUZZ_SEED ?? 0x5eed);
// Each huge set is two 2.5 MiB frames: above the router's 4 MiB message limit together, under it
// alone. (A single frame over the limit makes libzmq close the sender's connection before the
// router reads it: router-memory.test.ts covers that.)
const HUGE_FRAMES = 3;
const SUBSYSTEMS = ['hello', 'ping', 'peerlist', 'query', 'pubsub', 'error', 'quit', 'agentstop', 'RPC', 'routing_table', 'external_rpc', 'x'];
const PUBSUB_OPS = ['subscribe', 'unsubscribe', 'publish', 'list', 'synchronize', 'auth_update', 'protected_update', 'error', ''];
const JSON_GARBAGE = [
  '{', '[]', 'null', 'true', '5', '-1', '4294967296', '1e400', '"str"', '{"prefix": 5}', '{"prefix": ["a", null]}',
  '{"bus": {}, "prefix": "a"}', '{"topic": "t", "headers": [], "message": null}', '{"prefix": "", "subscribed": "yes"}',
  '[' .repeat(500), '{"a":'.repeat(200), '\u0000\u0001', '{"prefix": "\\ud800"}', 'NaN', '{"prefix": "a", "all_platforms": 1}',
];

type FrameSet = Array<Buffer | string>;

/** One random or mutated DEALER frame set (never a lone empty frame: that is a router probe, see below). */
function frameSet(rng: Prng, peers: readonly string[]): FrameSet {
  const vip = (recipient: string, subsystem: string, args: FrameSet): FrameSet => [recipient, 'VIP1', '', `f${rng.int(0, 1e6)}`, subsystem, ...args];
  switch (rng.int(0, 8)) {
    case 0: // random frames, random sizes
      return Array.from({ length: rng.int(1, 9) }, () => rng.bytes(rng.int(1, 48)));
    case 1: { // valid message, wrong signature
      const m = vip('', rng.pick(SUBSYSTEMS), ['x']);
      m[1] = rng.pick(['VIP2', 'vip1', 'VIP', 'VIP11', '', rng.bytes(4)]);
      return m;
    }
    case 2: // truncated valid message
      return vip('', 'ping', ['ping']).slice(0, rng.int(2, 4));
    case 3: // empty or blank subsystem
      return vip(rng.pick(['', ...peers]), rng.pick(['', ' ', '\t', ' \r\n ']), ['x']);
    case 4: // router-handled subsystems with random ops and args
      return vip('', rng.pick(SUBSYSTEMS), Array.from({ length: rng.int(0, 4) }, () => rng.pick([...PUBSUB_OPS, ...JSON_GARBAGE, 'list', 'serverkey'])));
    case 5: // JSON garbage to pubsub operations
      return vip('', 'pubsub', [rng.pick(PUBSUB_OPS), rng.pick(JSON_GARBAGE), ...(rng.next() < 0.3 ? [rng.pick(JSON_GARBAGE)] : [])]);
    case 6: // forwarded to a random or known recipient
      return vip(rng.pick(['no.such.peer', rng.bytes(rng.int(1, 8)).toString('latin1'), ...peers]), rng.pick(SUBSYSTEMS), [rng.bytes(rng.int(0, 32))]);
    case 7: // random subsystem name, random args
      return vip('', rng.bytes(rng.int(1, 12)).toString('latin1'), [rng.bytes(rng.int(0, 16))]);
    default: // a valid message with one frame flipped
      {
        const m = vip('', 'ping', ['ping', 'x']);
        const i = rng.int(0, m.length - 1);
        m[i] = rng.bytes(rng.int(0, 6));
        return m;
      }
  }
}

let platform: PlatformProcess;
let a: RawVipClient;
let b: RawVipClient;

const sum = (r: Record<string, number>) => Object.values(r).reduce((x, y) => x + y, 0);
const stats = (c: RawVipClient) => routerStats(c, { timeoutMs: 30_000 });

beforeAll(async () => {
  platform = await startPlatform({ instanceName: 'fuzz' });
  a = await openRawClient(platform, 'fuzz.a');
  b = await openRawClient(platform, 'fuzz.b');
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await platform?.close();
});

describe('router fuzz', () => {
  it(`survives ${TOTAL} random and mutated frame sets (seed ${SEED}) and still routes`, { timeout: 120_000 }, async () => {
    const rng = seededPrng(SEED);
    const before = await stats(a);
    const half = Buffer.alloc(2.5 * 1024 * 1024, 0x41);
    for (let i = 0; i < TOTAL; i++) {
      // A lone empty frame reaches the router as [identity, ''], a router probe, which the ZMQ
      // transport cannot tell from its own disconnect notification: it would unregister `a`.
      // Probes are covered by the conformance tests; they are not thrown here.
      const frames = i % Math.floor(TOTAL / HUGE_FRAMES) === 7 ? ['', 'VIP1', '', 'huge', 'ping', 'ping', half, half] : frameSet(rng, ['fuzz.b']);
      await a.send(frames);
      if (i % 5_000 === 0) {
        a.inbox.drain();
        b.inbox.drain();
      }
    }
    // Per-sender order: this reply comes after every frame set above was handled.
    const after = await stats(a);
    a.inbox.drain();
    b.inbox.drain();

    expect(after.router.received).toBeGreaterThan(before.router.received);
    // The transport reports what it cannot route to the router, which counts it (the transport
    // keeps its own copy of those counts too); the router's counters are the total.
    expect(sum(after.router.dropped) - sum(before.router.dropped)).toBeGreaterThan(TOTAL / 10);
    expect(sum(after.transport.dropped)).toBeGreaterThanOrEqual(HUGE_FRAMES);
    expect(after.router.dropped['bad VIP signature'] ?? 0).toBeGreaterThan(0);
    expect(after.router.dropped['too few frames'] ?? 0).toBeGreaterThan(0);
    expect(after.router.dropped['empty subsystem'] ?? 0).toBeGreaterThan(0);
    expect(after.router.dropped['oversize message'] ?? 0).toBe(HUGE_FRAMES);

    // Still routing: hello, peerlist, and a forward between the two clients.
    const hello = (await a.request('hello', ['hello'], 'post-hello')).map((f) => f.toString());
    expect(hello.slice(4, 7)).toEqual(['hello', 'welcome', '1.0']);
    const list = (await a.request('peerlist', ['list'], 'post-list')).map((f) => f.toString());
    expect(list).toEqual(expect.arrayContaining(['listing', 'fuzz.a', 'fuzz.b']));
    await a.sendVip('fuzz.b', 'RPC', ['{"ok": true}'], { id: 'post-forward' });
    const got = (await b.receiveReply('post-forward', 'RPC', { timeoutMs: 10_000 })).map((f) => f.toString());
    expect(got).toEqual(['fuzz.a', 'VIP1', 'fuzz.a', 'post-forward', 'RPC', '{"ok": true}']);
  });
});
