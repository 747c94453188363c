import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from '@vip/agent';
import { createRmqAgent, type RmqPubSubSubsystem } from '@vip/agent/rmq';
import { AMQP_URL, FAST_RECONNECT, rabbitmqctl, type TestVhost } from '@vip/testing';
import { freshVhost } from './helpers/broker.js';
import { startPlatform, waitFor, type PlatformProcess } from '@vip/testing';

/**
 * Faults with a real platform process on RabbitMQ: every connection of our vhost (the platform's
 * router and control service, every agent) force-closed by the broker during RPC and pubsub
 * traffic. Afterwards RPC and pubsub work again, every call and publish settled (none hangs),
 * and every message is accounted for: delivered, refused to its sender (send while disconnected,
 * timeout), or lost in the cut and counted here by sequence number. Pubsub is the agents' broker
 * pubsub (@vip/agent/rmq default): its own connection per agent, cut too, re-declared on reconnect.
 * Publishes are confirmed, so a second subscriber with a persistent (durable) queue receives every
 * publish that resolved, its own connection cut or not.
 */
const instanceName = 'flt';
let vh: TestVhost;
let platform: PlatformProcess;
const agents: Agent[] = [];

async function agent(identity: string): Promise<Agent> {
  const a = createRmqAgent({
    identity,
    rmq: { url: AMQP_URL, vhost: vh.vhost, instanceName, reconnect: FAST_RECONNECT },
    requestTimeoutMs: 3_000,
    rpc: { timeoutMs: 3_000 },
  });
  agents.push(a);
  await a.start();
  return a;
}

interface Tally {
  ok: number;
  failed: Record<string, number>;
}

function fail(t: Tally, err: unknown): void {
  const code = (err as { code?: unknown } | null)?.code;
  const key = typeof code === 'string' ? code : err instanceof Error ? err.name : 'unknown';
  t.failed[key] = (t.failed[key] ?? 0) + 1;
}

const failedTotal = (t: Tally) => Object.values(t.failed).reduce((a, b) => a + b, 0);

beforeAll(async () => {
  vh = await freshVhost('platform-faults');
  // shared login (opt-in): the agents here log in as guest; this file is about forced closes, not sender proofs
  platform = await startPlatform({ bus: 'rmq', rmq: { vhost: vh.vhost, url: AMQP_URL, sharedLogin: true }, instanceName });
});
afterAll(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
  await platform?.close();
  await vh?.dispose();
});

type Outcome = number | 'failed';

const pause = (): Promise<void> => new Promise((r) => setTimeout(r, 50));

/** Run `op(i)` until `stop()`, recording each outcome; after a failure wait for the agent to be back (no spinning). */
async function traffic(
  a: Agent,
  t: Tally & { outcome: Outcome[] },
  op: (i: number) => Promise<number>,
  stop: () => boolean,
): Promise<void> {
  for (let i = 0; i < 5_000 && !stop(); i++) {
    try {
      t.outcome.push(await op(i));
      t.ok += 1;
    } catch (err) {
      fail(t, err);
      t.outcome.push('failed');
      await waitFor(() => a.connected || stop(), { timeoutMs: 30_000, what: `${a.identity} back after a failure` });
      await pause(); // the agent's broker pubsub has its own link, maybe still reconnecting: no spinning
    }
  }
}

type Confirm = 'ok' | 'failed' | undefined;

/**
 * Publishes without counts on `load/fast`, up to 4 awaiting their confirms (so some are in the
 * socket at the cut), paced to spare the 2 cores; `outcome[i]` settles per sequence number.
 */
async function pipelined(a: Agent, outcome: Confirm[], stop: () => boolean): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  let failed = false;
  for (let i = 0; i < 20_000 && !stop(); i++) {
    outcome.push(undefined);
    const p: Promise<void> = a
      .pubsub!.publishNoWait('load/fast', { message: i })
      .then(
        () => void (outcome[i] = 'ok'),
        () => void ((outcome[i] = 'failed'), (failed = true)),
      )
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= 4) await Promise.race(inFlight);
    if (failed) {
      await Promise.all(inFlight);
      await waitFor(() => a.connected || stop(), { timeoutMs: 30_000, what: `${a.identity} back after a failed publish` });
      await pause();
      failed = false;
    }
    if (i % 4 === 3) await pause();
  }
  await Promise.all(inFlight);
}

describe('platform process on RabbitMQ: connections force-closed during traffic', () => {
  it('RPC and pubsub recover; every call and publish settles; every message is accounted for', async () => {
    const srv = await agent('flt.srv');
    srv.rpc.export('echo', (x: unknown) => x);
    const cli = await agent('flt.cli');
    const sub = await agent('flt.sub');
    const keep = await agent('flt.keep');
    const pub = await agent('flt.pub');
    const kept = new Set<number>();
    const keptFast = new Set<number>();
    await keep
      .subsystem<RmqPubSubSubsystem>('pubsub')!
      .subscribe('load/', (_p, _s, _b, topic, _h, message) => void (topic === 'load/fast' ? keptFast : kept).add(Number(message)), {
        persistentQueue: 'flt-keep',
      });
    const received = new Set<number>();
    let duplicates = 0;
    await sub.pubsub!.subscribe('load/', (_p, _s, _b, topic, _h, message) => {
      if (topic !== 'load/x') return;
      const n = Number(message);
      if (received.has(n)) duplicates += 1;
      received.add(n);
    });
    const rpc = { ok: 0, failed: {}, outcome: [] as Outcome[] };
    const published = { ok: 0, failed: {}, outcome: [] as Outcome[] };
    const fast: Confirm[] = [];
    let stop = false;
    const loops = Promise.all([
      traffic(
        cli,
        rpc,
        async (i) => {
          expect(await cli.rpc.call('flt.srv', 'echo', i)).toBe(i);
          return 1;
        },
        () => stop,
      ),
      traffic(
        pub,
        published,
        (i) => pub.pubsub!.publish('load/x', { message: i }),
        () => stop,
      ),
      pipelined(pub, fast, () => stop),
    ]);
    // where each stream was when its agent saw the broker close its connection
    const cutAt = { rpc: -1, pub: -1, sub: false, keep: false };
    cli.on('disconnected', () => void (cutAt.rpc < 0 && (cutAt.rpc = rpc.outcome.length)));
    pub.on('disconnected', () => void (cutAt.pub < 0 && (cutAt.pub = published.outcome.length)));
    sub.on('disconnected', () => void (cutAt.sub = true));
    keep.on('disconnected', () => void (cutAt.keep = true));
    try {
      await waitFor(() => rpc.ok >= 30 && published.ok >= 30, { timeoutMs: 20_000, what: 'traffic before the cut' });
      await rabbitmqctl('close_all_connections', '-p', vh.vhost, 'test');
      await waitFor(() => cutAt.rpc >= 0 && cutAt.pub >= 0 && cutAt.sub && cutAt.keep, { timeoutMs: 10_000, what: 'the agents cut off' });
      await waitFor(() => agents.every((a) => a.connected), { timeoutMs: 30_000, what: 'every agent re-welcomed' });
      // recovery: RPC answers again and publishes reach the re-synchronized subscriber
      await waitFor(() => rpc.outcome.slice(cutAt.rpc).filter((o) => o === 1).length >= 30, {
        timeoutMs: 30_000,
        what: 'RPC after the cut',
      });
      await waitFor(() => [...received].filter((n) => n >= cutAt.pub).length >= 30, {
        timeoutMs: 30_000,
        what: 'publishes after the cut delivered',
      });
    } catch (err) {
      console.info(
        JSON.stringify({
          failedAt: (err as Error).message,
          cutAt,
          rpc: rpc.outcome.length,
          rpcFailed: rpc.failed,
          published: published.outcome.length,
          pubFailed: published.failed,
          received: received.size,
          fast: fast.length,
          pubStats: pub.pubsub!.stats(),
        }),
      );
      throw err;
    } finally {
      stop = true;
      await loops;
    }
    // every call and publish settled one way or the other
    expect(rpc.ok + failedTotal(rpc)).toBe(rpc.outcome.length);
    expect(published.ok + failedTotal(published)).toBe(published.outcome.length);
    expect(duplicates).toBe(0);
    const sent = published.outcome.length;
    // a publish resolved (confirmed by the broker) to its subscriber count: the persistent queue's
    // binding always counts, the other subscriber's only while its exclusive queue exists
    const accepted = (i: number) => typeof published.outcome[i] === 'number';
    await waitFor(() => accepted(sent - 1) === received.has(sent - 1), { timeoutMs: 5_000, what: 'the last accepted publish delivered' });
    // per sequence number: delivered; refused to the publisher (sent while its pubsub connection
    // was down, or the count read failed); "0 subscribers" (the subscriber's exclusive queue was
    // gone with its connection until its pubsub re-declared it: broker pubsub counts bindings);
    // or accepted for 1 subscriber and lost in the cut (in flight, or in its exclusive queue when
    // the broker closed it)
    const seq = [...Array(sent).keys()];
    const delivered = seq.filter((i) => received.has(i));
    const refused = seq.filter((i) => published.outcome[i] === 'failed' && !received.has(i));
    const toldNone = seq.filter((i) => published.outcome[i] === 1 && !received.has(i));
    const lostInCut = seq.filter((i) => published.outcome[i] === 2 && !received.has(i));
    expect(delivered.length + refused.length + toldNone.length + lostInCut.length).toBe(sent);
    // losses happen only around the cut: nothing accepted after the subscriber's first delivery
    // that follows the last undelivered message, and nothing before the cut
    const undelivered = [...refused, ...toldNone, ...lostInCut];
    expect(undelivered.every((i) => i >= cutAt.pub - 50)).toBe(true);
    const resumed = Math.max(-1, ...undelivered);
    expect(seq.filter((i) => i > resumed && accepted(i) && !received.has(i))).toEqual([]);
    // RPC: failures only around the cut; after the first success that follows a failure, none
    const lastRpcFailure = rpc.outcome.lastIndexOf('failed');
    expect(rpc.outcome.slice(lastRpcFailure + 1).length).toBeGreaterThanOrEqual(30);
    expect(rpc.outcome.slice(0, cutAt.rpc - 50).every((o) => o === 1)).toBe(true);
    // the persistent subscription: every publish that resolved, nothing that was never sent
    const confirmed = seq.filter(accepted);
    await waitFor(() => confirmed.every((i) => kept.has(i)), {
      timeoutMs: 15_000,
      what: 'every confirmed publish in the persistent queue delivered',
    });
    expect([...kept].filter((n) => !(n >= 0 && n < sent))).toEqual([]);
    expect(fast.filter((o) => o === undefined)).toEqual([]);
    const fastConfirmed = [...fast.keys()].filter((i) => fast[i] === 'ok');
    await waitFor(() => fastConfirmed.every((i) => keptFast.has(i)), {
      timeoutMs: 15_000,
      what: 'every confirmed pipelined publish delivered',
    });
    expect([...keptFast].filter((n) => !(n >= 0 && n < fast.length))).toEqual([]);
    const pubStats = pub.pubsub!.stats();
    const raw = await cli.query.query('vip-router-stats');
    const stats = (typeof raw === 'string' ? JSON.parse(raw) : raw) as { transport: { reconnects: number } };
    expect(stats.transport.reconnects).toBeGreaterThanOrEqual(1);
    console.info(
      JSON.stringify({
        rpc: { calls: rpc.outcome.length, ok: rpc.ok, failed: rpc.failed },
        publish: { sent, delivered: delivered.length, refused: refused.length, toldNone: toldNone.length, lostInCut: lostInCut.length },
        persistent: {
          confirmed: confirmed.length,
          kept: kept.size,
          fastSent: fast.length,
          fastConfirmed: fastConfirmed.length,
          keptFast: keptFast.size,
          unconfirmed: pubStats.unconfirmed,
          rejectedWhileDisconnected: pubStats.rejected_while_disconnected,
        },
        transport: stats.transport,
      }),
    );
  });
});
