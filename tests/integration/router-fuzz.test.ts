// Randomized robustness: 100,000 random and mutated frame sets thrown at a running platform over
// tcp+CURVE, then the platform must still route correctly and its drop counters must have moved.
// Seeded (VIP_FUZZ_SEED to reproduce), bounded in count and time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyDiscoveryAgent } from '@vip/keydiscovery';
import { PubSubService } from '@vip/pubsub';
import { ExternalRpcExtension, externalPubSubLinks, linkUserOf, PlatformLinkTable, Router, RoutingTableExtension } from '@vip/router';
import {
  freePort,
  MemoryTransport,
  openRawClient,
  routerStats,
  seededPrng,
  startPlatform,
  type PlatformProcess,
  type Prng,
  type RawVipClient,
} from '@vip/testing';

const TOTAL = 100_000;
const SEED = Number(process.env.VIP_FUZZ_SEED ?? 0x5eed);
// Each huge set is two 2.5 MiB frames: above the router's 4 MiB message limit together, under it
// alone. (A single frame over the limit makes libzmq close the sender's connection before the
// router reads it: router-memory.test.ts covers that.)
const HUGE_FRAMES = 3;
const SUBSYSTEMS = [
  'hello',
  'ping',
  'peerlist',
  'query',
  'pubsub',
  'error',
  'quit',
  'agentstop',
  'RPC',
  'routing_table',
  'external_rpc',
  'x',
];
const PUBSUB_OPS = ['subscribe', 'unsubscribe', 'publish', 'list', 'synchronize', 'auth_update', 'protected_update', 'error', ''];
const JSON_GARBAGE = [
  '{',
  '[]',
  'null',
  'true',
  '5',
  '-1',
  '4294967296',
  '1e400',
  '"str"',
  '{"prefix": 5}',
  '{"prefix": ["a", null]}',
  '{"bus": {}, "prefix": "a"}',
  '{"topic": "t", "headers": [], "message": null}',
  '{"prefix": "", "subscribed": "yes"}',
  '['.repeat(500),
  '{"a":'.repeat(200),
  '\u0000\u0001',
  '{"prefix": "\\ud800"}',
  'NaN',
  '{"prefix": "a", "all_platforms": 1}',
];

type FrameSet = Array<Buffer | string>;

/** One random or mutated DEALER frame set (never a lone empty frame: that is a router probe, see below). */
function frameSet(rng: Prng, peers: readonly string[]): FrameSet {
  const vip = (recipient: string, subsystem: string, args: FrameSet): FrameSet => [
    recipient,
    'VIP1',
    '',
    `f${rng.int(0, 1e6)}`,
    subsystem,
    ...args,
  ];
  switch (rng.int(0, 8)) {
    case 0: // random frames, random sizes
      return Array.from({ length: rng.int(1, 9) }, () => rng.bytes(rng.int(1, 48)));
    case 1: {
      // valid message, wrong signature
      const m = vip('', rng.pick(SUBSYSTEMS), ['x']);
      m[1] = rng.pick(['VIP2', 'vip1', 'VIP', 'VIP11', '', rng.bytes(4)]);
      return m;
    }
    case 2: // truncated valid message
      return vip('', 'ping', ['ping']).slice(0, rng.int(2, 4));
    case 3: // empty or blank subsystem
      return vip(rng.pick(['', ...peers]), rng.pick(['', ' ', '\t', ' \r\n ']), ['x']);
    case 4: // router-handled subsystems with random ops and args
      return vip(
        '',
        rng.pick(SUBSYSTEMS),
        Array.from({ length: rng.int(0, 4) }, () => rng.pick([...PUBSUB_OPS, ...JSON_GARBAGE, 'list', 'serverkey'])),
      );
    case 5: // JSON garbage to pubsub operations
      return vip('', 'pubsub', [rng.pick(PUBSUB_OPS), rng.pick(JSON_GARBAGE), ...(rng.next() < 0.3 ? [rng.pick(JSON_GARBAGE)] : [])]);
    case 6: // forwarded to a random or known recipient
      return vip(rng.pick(['no.such.peer', rng.bytes(rng.int(1, 8)).toString('latin1'), ...peers]), rng.pick(SUBSYSTEMS), [
        rng.bytes(rng.int(0, 32)),
      ]);
    case 7: // random subsystem name, random args
      return vip('', rng.bytes(rng.int(1, 12)).toString('latin1'), [rng.bytes(rng.int(0, 16))]);
    default: {
      // a valid message with one frame flipped
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
      const frames =
        i % Math.floor(TOTAL / HUGE_FRAMES) === 7 ? ['', 'VIP1', '', 'huge', 'ping', 'ping', half, half] : frameSet(rng, ['fuzz.b']);
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

// ---------------------------------------------------------------------------------------------
// Multi-platform paths (issue 15): routing_table, external_rpc and pubsub external ops, from an
// agent (the real platform above) and from a proven link (a router over the memory transport),
// and key discovery against endpoints that answer garbage, slowly or not at all.

const MULTI_OPS = [
  'send_platform',
  'send_peer',
  'hello',
  'welcome',
  'update',
  'request_response',
  'normalmode_platform_connection',
  'setupmode_platform_connection',
  'web-addresses',
  'external_publish',
  'external_list',
  '',
  'x',
];
const PLATFORM_NAMES = ['fuzz', 'nowhere', '', 'x'.repeat(300), 'there', 'here', '\u0000'];

/** A random multi-platform frame set: random op, payload garbage or a near-valid payload, 0..12 argument frames. */
function multiFrameSet(rng: Prng): { subsystem: string; args: string[] } {
  const subsystem = rng.pick(['routing_table', 'external_rpc', 'pubsub']);
  const payload =
    rng.next() < 0.5
      ? rng.pick(JSON_GARBAGE)
      : JSON.stringify({
          to_platform: rng.pick(PLATFORM_NAMES),
          to_peer: rng.pick(['fuzz.b', 'victim', '', 'no.such.peer']),
          from_platform: rng.pick(PLATFORM_NAMES),
          from_peer: 'x',
          args: rng.pick([[], ['{"jsonrpc": "2.0", "id": "1", "method": "m"}'], ['garbage'], [5], null]),
        });
  const extra = Array.from({ length: rng.int(0, 10) }, () => rng.pick([...JSON_GARBAGE, 'extra']));
  return { subsystem, args: [rng.pick(MULTI_OPS), payload, ...extra].slice(0, rng.int(0, 12)) };
}

describe('router fuzz: multi-platform paths', () => {
  it('an agent throwing routing_table/external_rpc/external pubsub garbage (9+ frames, unknown platforms) gets errors, the platform routes on', {
    timeout: 60_000,
  }, async () => {
    const rng = seededPrng(SEED + 15);
    for (let i = 0; i < 3_000; i++) {
      const { subsystem, args } = multiFrameSet(rng);
      await a.sendVip('', subsystem, args, { id: `mp${i}` });
      if (i % 500 === 0) a.inbox.drain();
    }
    // an external call to an unknown platform is answered at once with a JSON-RPC error per request
    const payload = JSON.stringify({
      to_platform: 'nowhere',
      to_peer: 'p',
      from_platform: '',
      from_peer: '',
      args: ['{"jsonrpc": "2.0", "id": "c1", "method": "m"}'],
    });
    const answer = (
      await a.request('external_rpc', ['send_platform', payload, 'ninth', 'tenth', 'eleventh'], 'mp-call', { timeoutMs: 10_000 })
    ).map((f) => f.toString());
    expect(answer[4]).toBe('external_rpc');
    const back = JSON.parse(answer[6] as string) as { args: string[] };
    expect(JSON.parse(back.args[0] as string).error.data).toMatchObject({ platform: 'nowhere', reason: 'unknown' });
    const counters = (await stats(a)).router.counters as Record<string, number>;
    expect(counters['internal error'] ?? 0).toBe(0);
    expect(counters['subsystem handler failed'] ?? 0).toBe(0);
    await a.sendVip('fuzz.b', 'RPC', ['{"ok": 2}'], { id: 'mp-forward' });
    expect((await b.receiveReply('mp-forward', 'RPC', { timeoutMs: 10_000 })).map((f) => f.toString()).at(-1)).toBe('{"ok": 2}');
  });

  it('a proven link throwing the same garbage: counted drops or error answers, never a crash, and it still delivers', {
    timeout: 60_000,
  }, async () => {
    const table = new PlatformLinkTable({ instanceName: 'here' });
    table.addPlatform('there', { serverKey: 'k', vipAddress: 'tcp://127.0.0.1:1' });
    const transport = new MemoryTransport({ requiresProof: true });
    const router = new Router({
      identity: 'router',
      transport,
      platformLinks: table,
      instanceName: 'here',
      extensions: [
        new RoutingTableExtension(table),
        new ExternalRpcExtension(table),
        new PubSubService({ externalPlatforms: externalPubSubLinks(table) }),
      ],
    });
    await router.start();
    try {
      const victim = transport.connection('victim', { userId: 'victim' });
      const got: string[] = [];
      victim.onMessage((m) => void got.push(m.subsystem.toString()));
      await victim.open();
      const link = transport.connection('instance.here.1', { userId: linkUserOf('there') });
      await link.open();
      const rng = seededPrng(SEED + 16);
      for (let i = 0; i < 20_000; i++) {
        const { subsystem, args } = multiFrameSet(rng);
        await link.send({
          peer: Buffer.alloc(0),
          user: Buffer.from('u'),
          id: Buffer.from(`l${i}`),
          subsystem: Buffer.from(subsystem),
          args: args.map((x) => Buffer.from(x)),
        });
        // what the remote router answers on our own outgoing link goes through the table too
        if (i % 4 === 0)
          table.arrived('there', {
            peer: Buffer.alloc(0),
            user: Buffer.alloc(0),
            id: Buffer.from(`o${i}`),
            subsystem: Buffer.from(subsystem),
            args: args.map((x) => Buffer.from(x)),
          });
        if (i % 1_000 === 0) await router.poll();
      }
      await router.poll();
      const s = router.stats();
      expect(s.counters['internal error'] ?? 0).toBe(0);
      expect(s.counters['subsystem handler failed'] ?? 0).toBe(0);
      const before = got.filter((x) => x === 'external_rpc').length;
      const valid = JSON.stringify({
        to_platform: 'here',
        to_peer: 'victim',
        from_platform: 'there',
        from_peer: 'p',
        args: ['{"jsonrpc": "2.0", "id": "v", "method": "m"}'],
      });
      await link.send({
        peer: Buffer.alloc(0),
        user: Buffer.from('u'),
        id: Buffer.from('valid'),
        subsystem: Buffer.from('external_rpc'),
        args: [Buffer.from('send_peer'), Buffer.from(valid)],
      });
      await router.poll();
      expect(got.filter((x) => x === 'external_rpc').length).toBe(before + 1);
    } finally {
      await router.stop();
    }
  });

  it('key discovery against endpoints answering garbage, slowly or not at all: each platform fails, bounded, nothing linked', {
    timeout: 60_000,
  }, async () => {
    const sockets = new Set<import('node:net').Socket>();
    const garbage = createServer((_req, res) => res.end(seededPrng(SEED).bytes(200)));
    const notJson = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end('{"instance-name": 5, "serverkey": [1]}');
    });
    const slow = createServer((_req, res) => {
      res.write('{"instance-name": ');
    }); // never finishes
    for (const s of [garbage, notJson, slow])
      s.on('connection', (c) => {
        sockets.add(c);
        c.on('close', () => sockets.delete(c));
      });
    const listen = (s: ReturnType<typeof createServer>) =>
      new Promise<string>((r) => s.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(s.address() as { port: number }).port}`)));
    const urls = [await listen(garbage), await listen(notJson), await listen(slow), `http://127.0.0.1:${await freePort()}`];
    const home = await mkdtemp(join(tmpdir(), 'vip-fuzz-discovery-'));
    try {
      await writeFile(join(home, 'external_address.json'), JSON.stringify(urls));
      const linked: string[] = [];
      const agent = new KeyDiscoveryAgent({
        vipHome: home,
        instanceName: 'fuzz',
        mode: 'setup',
        bindWebAddress: 'http://127.0.0.1:1',
        routing: {
          webAddresses: () => undefined,
          setupModeConnection: (p) => void linked.push(p.instanceName),
          normalModeConnection: (p) => void linked.push(p.instanceName),
        },
        retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 },
        fetch: { timeoutMs: 500 },
      });
      const report = await agent.run();
      expect(report.results.map((r) => r.outcome)).toEqual(['failed', 'failed', 'failed', 'failed']);
      expect(linked).toEqual([]);
      await agent.close();
    } finally {
      for (const c of sockets) c.destroy();
      for (const s of [garbage, notJson, slow]) s.close();
      await rm(home, { recursive: true, force: true });
    }
  });
});
