import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { Agent } from '@vip/agent';
import { createRmqAgent } from '@vip/agent/rmq';
import { startPlatform, waitFor } from '@vip/testing';
import { RmqPubSub, type PubSubDelivery } from '@vip/rmq/pubsub';
import { AMQP_URL, exclusiveBroker, FAST_RECONNECT, rabbitmqctl, type TestVhost } from '@vip/testing';
import { freshVhost } from './helpers/broker.js';
import { reconnected, startScenarioAgent, startScenarioRouter, trafficLoop, vip } from './helpers/broker.js';

/**
 * The one test that stops the RabbitMQ application (every test on this machine feels it): kept
 * short, the app is always started again in `finally`, and it first waits (exclusiveBroker) until
 * the other RabbitMQ test files, running in parallel, have released their virtual hosts. Pubsub
 * publishes run through it too: each one that resolved (confirmed, delivery mode 2) reaches the
 * persistent subscription's durable queue across the restart. A platform PROCESS with @vip/agent
 * agents shares the restart: its RPC calls during the outage settle (answered or refused), and
 * afterwards RPC and broker pubsub between the agents work again without restarting anything.
 */
let vh: TestVhost;

function brokerPubsub(identity: string): RmqPubSub {
  const ps = new RmqPubSub({ url: AMQP_URL, vhost: vh.vhost, instanceName: 'inst', reconnect: FAST_RECONNECT, identity });
  onTestFinished(() => ps.close());
  return ps;
}

/** A started @vip/agent agent on the platform instance `plat` of the test vhost. */
async function platformAgent(identity: string): Promise<Agent> {
  const a = createRmqAgent({
    identity,
    rmq: { url: AMQP_URL, vhost: vh.vhost, instanceName: 'plat', reconnect: FAST_RECONNECT },
    requestTimeoutMs: 3_000,
    rpc: { timeoutMs: 3_000 },
  });
  onTestFinished(() => a.close());
  await a.start();
  return a;
}

/** Sequential agent RPC calls until `stop()`: answered and refused (sent while down, timed out) are counted; none may hang. */
async function rpcLoop(cli: Agent, tally: { ok: number; failed: number }, stop: () => boolean): Promise<void> {
  for (let i = 0; i < 100_000 && !stop(); i++) {
    try {
      if ((await cli.rpc.call('srv', 'echo', i)) !== i) throw new Error('wrong answer');
      tally.ok += 1;
    } catch {
      tally.failed += 1;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Confirmed publishes on `load/x` until `stop()`, numbered; after a rejection, a short pause (the link is reconnecting). */
async function publishLoop(ps: RmqPubSub, confirmed: number[], stop: () => boolean): Promise<number> {
  let i = 0;
  for (; i < 20_000 && !stop(); i++) {
    try {
      await ps.publish({ topic: 'load/x', message: i });
      confirmed.push(i);
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return i;
}

beforeAll(async () => {
  vh = await freshVhost('restart');
});
afterAll(async () => {
  await rabbitmqctl('await_startup');
  await vh?.dispose();
});

describe('RMQ transport across a broker restart (stop_app / start_app)', () => {
  it('reconnects router and agents and messages flow again', { timeout: 240_000 }, async () => {
    const router = await startScenarioRouter(vh.vhost);
    const alice = await startScenarioAgent(vh.vhost, 'alice');
    const bob = await startScenarioAgent(vh.vhost, 'bob');
    const kept = new Set<number>();
    const keepAll = (d: PubSubDelivery): void => void kept.add(Number(d.message));
    const keep = brokerPubsub('keep');
    await keep.open();
    await keep.subscribe('load/', keepAll, { persistentQueue: 'keep' });
    const carol = brokerPubsub('carol');
    await carol.open();
    const confirmed: number[] = [];
    let stopPublishing = false;
    const publishing = publishLoop(carol, confirmed, () => stopPublishing);
    // shared login (opt-in): the agents here log in as guest
    const platform = await startPlatform({ bus: 'rmq', rmq: { vhost: vh.vhost, url: AMQP_URL, sharedLogin: true }, instanceName: 'plat' });
    onTestFinished(() => platform.close());
    const srv = await platformAgent('srv');
    srv.rpc.export('echo', (x: unknown) => x);
    const cli = await platformAgent('cli');
    const heard: unknown[] = [];
    await srv.pubsub!.subscribe('after/', (_p, _s, _b, _t, _h, message) => void heard.push(message));
    const calls = { ok: 0, failed: 0 };
    let stopCalls = false;
    const calling = rpcLoop(cli, calls, () => stopCalls);
    const release = await exclusiveBroker(); // the other RabbitMQ test files finish first
    onTestFinished(release);
    const traffic = trafficLoop(alice.conn, 'bob', 60_000);
    await bob.inbox.count(() => true, 10, 10_000, 'traffic before the restart');
    await keep.close(); // away across the restart: its durable queue holds the backlog
    try {
      await rabbitmqctl('stop_app');
    } finally {
      await rabbitmqctl('start_app');
      await rabbitmqctl('await_startup');
    }
    await Promise.all([
      reconnected(router.statuses, 'router', 40_000),
      reconnected(alice.statuses, 'alice', 40_000),
      reconnected(bob.statuses, 'bob', 40_000),
    ]);
    traffic.stop();
    await traffic.done;
    // the platform process and its agents came back by themselves: RPC answers, broker pubsub delivers
    await waitFor(() => cli.connected && srv.connected, { timeoutMs: 40_000, what: 'the platform agents re-welcomed' });
    const okBefore = calls.ok;
    await waitFor(() => calls.ok >= okBefore + 20, { timeoutMs: 30_000, what: 'agent RPC after the restart' }).catch((err: unknown) => {
      console.info(JSON.stringify({ calls, cli: cli.connected, srv: srv.connected }), '\n', platform.stderrTail(40));
      throw err;
    });
    stopCalls = true;
    await calling; // every call settled
    expect(calls.failed).toBeGreaterThan(0); // the outage was felt
    expect(await cli.pubsub!.publish('after/restart', { message: 'back' })).toBe(1);
    await waitFor(() => heard.includes('back'), { timeoutMs: 10_000, what: 'broker pubsub after the restart' });
    console.info(JSON.stringify({ agentRpc: calls }));
    const back = brokerPubsub('keep');
    await back.open();
    await back.subscribe('load/', keepAll, { persistentQueue: 'keep' });
    await waitFor(() => confirmed.length > 0 && kept.has(confirmed.at(-1)!), {
      timeoutMs: 20_000,
      what: 'pubsub publishes after the restart',
    });
    stopPublishing = true;
    const sent = await publishing;
    await waitFor(() => confirmed.every((i) => kept.has(i)), {
      timeoutMs: 20_000,
      what: 'every confirmed publish in the persistent queue',
    });
    expect([...kept].filter((n) => !(n >= 0 && n < sent))).toEqual([]);
    expect(sent - confirmed.length).toBe(carol.stats().rejectedWhileDisconnected + carol.stats().unconfirmed);
    console.info(JSON.stringify({ pubsub: { sent, confirmed: confirmed.length, kept: kept.size, ...carol.stats() } }));
    expect(traffic.rejected).toBeGreaterThan(0);
    // retrying was reported between the loss and the return
    expect(alice.statuses.items.some((s) => s.type === 'retrying')).toBe(true);

    await alice.conn.send(vip('bob', 'RPC', [Buffer.from('after')], 'after-1'));
    await bob.inbox.next((m) => m.id.toString() === 'after-1', 10_000, 'message after restart');
    await alice.conn.send(vip('', 'ping', [Buffer.from('ping')], 'ping-after'));
    const pong = await alice.inbox.next((m) => m.id.toString() === 'ping-after', 10_000, 'pong after restart');
    expect(pong.args[0]?.toString()).toBe('pong');
    await alice.conn.send(vip('ghost', 'RPC', [Buffer.from('{}')], 'ghost-1'));
    const err = await alice.inbox.next((m) => m.id.toString() === 'ghost-1' && m.subsystem.toString() === 'error', 10_000, 'error 113');
    expect(err.args[0]?.toString()).toBe('113');
  });
});
