// Randomized robustness on RabbitMQ: 20,000 random and mutated AMQP messages published (raw
// amqplib, publisher confirms) at a platform process's router queue, an agent's queue and the
// agent's broker pubsub subscription queues; afterwards the platform and the agent still work,
// and every message is accounted for in a counter. Seeded (VIP_FUZZ_SEED to reproduce).
import amqp, { type ChannelModel, type ConfirmChannel, type Options } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Agent } from '@vip/agent';
import { createRmqAgent, type RmqPubSubSubsystem } from '@vip/agent/rmq';
import { AMQP_URL, FAST_RECONNECT, type TestVhost } from '@vip/testing';
import { freshVhost, management } from './helpers/broker.js';
import { seededPrng, startPlatform, waitFor, type PlatformProcess, type Prng } from '@vip/testing';

const TOTAL = 20_000;
const SEED = Number(process.env.VIP_FUZZ_SEED ?? 0x5eed);
const INSTANCE = 'fz';
const AGENT = 'fz.agent';
const CALLER = 'fz.caller';
const AGENT_KEY = `${INSTANCE}.${AGENT}`;
const ROUTER_KEY = `${INSTANCE}.router`;
const PERSISTENT = 'fuzzkeep';
const PERSISTENT_QUEUE = `${AGENT_KEY}.pubsub.persistent.${PERSISTENT}`;
/** The agent's (and its pubsub's) maxMessageBytes: deliveries above it are refused as invalid. */
const AGENT_MAX_BYTES = 256 * 1024;
/** The platform's default maxMessageBytes (64 MiB): a few bodies above it go to the router queue. */
const ROUTER_MAX_BYTES = 64 * 1024 * 1024;
const ROUTER_OVERSIZE = 2;
const CONFIRM_WINDOW = 256;

type Target = 'router' | 'agent' | 'pubsub';
/** What the receiver must make of a message: `invalid` ones must be counted invalid; `either` is not predicted. */
type Verdict = 'invalid' | 'valid' | 'either';
interface Shot {
  readonly target: Target;
  readonly exchange: string;
  readonly routingKey: string;
  readonly content: Buffer;
  readonly options: Options.Publish;
  readonly verdict: Verdict;
}

// `control` is never spoofed: a `quit` from it stops the platform by design (RabbitMQ permissions,
// not the router, decide who may publish as whom).
const SENDERS = [
  `${INSTANCE}.${AGENT}`,
  `${INSTANCE}.${CALLER}`,
  `${INSTANCE}.ghost`,
  `${INSTANCE}.a.b.c`,
  `${INSTANCE}.ünï ☃`,
  `${INSTANCE}.a*b`,
  `${INSTANCE}.#`,
  'other.ghost',
];
const ROUTER_SUBSYSTEMS = [
  'ping',
  'peerlist',
  'query',
  'hello',
  'pubsub',
  'error',
  'agentstop',
  'RPC',
  'nosuch',
  'routing_table',
  'external_rpc',
];
const AGENT_SUBSYSTEMS = ['RPC', 'ping', 'peerlist', 'hello', 'pubsub', 'error', 'heartbeat', 'health', 'nosuch', 'query'];
const ARG_TEXT = [
  'ping',
  'pong',
  'list',
  'hello',
  'welcome',
  'add',
  'drop',
  'subscribe',
  'publish',
  'instance-name',
  'vip-router-stats',
  '113',
  '',
];
const JSON_GARBAGE = [
  '{',
  '[]',
  'null',
  'true',
  '5',
  '"str"',
  '{"prefix": 5}',
  '{"prefix": ["a", null]}',
  '{"bus": {}, "prefix": "a"}',
  '{"topic": "t", "headers": [], "message": null}',
  '['.repeat(300),
  '{"a":'.repeat(100),
  '\u0000\u0001',
  '{"prefix": "\\ud800"}',
];
const RPC_BODIES = [
  '{"jsonrpc": "2.0", "method": "fuzz.echo", "params": [1], "id": "r1"}',
  '{"jsonrpc": "2.0", "method": "fuzz.echo", "params": {"x": [1, {"y": null}]}, "id": 7}',
  '{"jsonrpc": "2.0", "method": "no.such", "id": "r2"}',
  '{"jsonrpc": "2.0", "method": "fuzz.echo", "params": [1]}',
  '{"jsonrpc": "1.0", "method": 5, "id": {}}',
  '[{"jsonrpc": "2.0", "method": "fuzz.echo", "params": [], "id": 1}, 5, null]',
  '{"jsonrpc": "2.0", "result": 1, "id": "unknown"}',
  '{"jsonrpc": "2.0", "error": {"code": "x"}, "id": "unknown"}',
  ...JSON_GARBAGE,
];

/** An odd header value of every AMQP field type amqplib can write. */
function oddValue(rng: Prng): unknown {
  switch (rng.int(0, 13)) {
    case 0:
      return rng.int(-1e6, 1e6);
    case 1:
      return rng.next() * 1e9;
    case 2:
      return rng.next() < 0.5;
    case 3:
      return null;
    case 4:
      return { nested: { deeper: [1, 'x', { t: true }] } };
    case 5:
      return [1, 'two', [3], null];
    case 6:
      return rng.bytes(rng.int(0, 16));
    case 7:
      return { '!': 'timestamp', value: Math.floor(Date.now() / 1000) };
    case 8:
      return { '!': 'decimal', value: { places: 2, digits: rng.int(0, 1e6) } };
    case 9:
      return { '!': rng.pick(['int8', 'int16', 'int32', 'uint8']), value: rng.int(0, 100) };
    case 10:
      return { '!': 'float', value: 1.5 };
    case 11:
      return 'x'.repeat(rng.int(0, 2_000));
    case 12:
      return { '!': 'int64', value: rng.int(-1e9, 1e9) };
    default:
      return '';
  }
}

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v), 'utf8');
const deep = (n: number): Buffer => Buffer.from('['.repeat(n) + ']'.repeat(n), 'utf8');

/** A well-formed VIP message from `appId` to `routingKey` (docs/protocol.md 7.3). */
function vipShot(rng: Prng, target: Target, routingKey: string, appId: string, type: string, args: unknown[]): Shot {
  return {
    target,
    exchange: rng.next() < 0.2 ? '' : 'volttron', // the default exchange puts it straight into the queue
    routingKey,
    content: json(args),
    options: {
      appId,
      messageId: `fz.${rng.int(0, 1e9)}`,
      type,
      contentType: 'application/json',
      headers: { recipient: routingKey, proto: 'VIP', user: appId },
    },
    verdict: 'valid',
  };
}

function validVip(rng: Prng, target: 'router' | 'agent'): Shot {
  const appId = rng.pick(SENDERS);
  const args = Array.from({ length: rng.int(0, 3) }, () => rng.pick([...ARG_TEXT, ...JSON_GARBAGE]));
  if (target === 'router') {
    const type = rng.pick(ROUTER_SUBSYSTEMS);
    if (type === 'agentstop') args.splice(0, args.length, rng.pick(['ghost', 'a.b.c', '', AGENT]));
    const shot = vipShot(rng, 'router', ROUTER_KEY, appId, type, args);
    // app_id naming the router: the router refuses a message from itself
    return appId.endsWith('.router') ? { ...shot, verdict: 'invalid' } : shot;
  }
  const type = rng.pick(AGENT_SUBSYSTEMS);
  return vipShot(rng, 'agent', AGENT_KEY, appId, type, type === 'RPC' ? [rng.pick(RPC_BODIES)] : args);
}

const TOPIC_WORDS = ['x', '*', '#', '', 'ünï', 'a/b', 'y'.repeat(120), '__pubsub__', 'fz', '..', ' '];

function validPubsub(rng: Prng): Shot {
  const words = Array.from({ length: rng.int(0, 3) }, () => rng.pick(TOPIC_WORDS));
  let routingKey = ['__pubsub__', INSTANCE, 'fuzz', ...words, '#'].join('.');
  if (Buffer.byteLength(routingKey) > 255) routingKey = `__pubsub__.${INSTANCE}.fuzz.long.#`;
  const topic = ['fuzz', ...words].join('/');
  const body = {
    sender: rng.pick(['ghost', AGENT, CALLER, '']),
    bus: rng.pick(['', '', 'other']),
    headers: { h: oddValue(rng) },
    message: { n: rng.int(0, 1e6) },
  };
  const disagree = rng.next() < 0.1;
  return {
    target: 'pubsub',
    exchange: 'volttron',
    routingKey,
    content: json(body),
    options: {
      appId: `${INSTANCE}.ghost`,
      messageId: `p.${rng.int(0, 1e9)}`,
      type: 'pubsub',
      contentType: 'application/json',
      headers: {
        recipient: '',
        proto: 'VIP',
        user: 'ghost',
        ...(disagree ? { 'x-vip-topic': 'fuzz/not.the.key' } : rng.next() < 0.2 ? { 'x-vip-topic': topic } : {}),
      },
    },
    verdict: 'valid',
  };
}

/** A bad body for a VIP queue (router or agent); all of them are invalid. */
function badVipBody(rng: Prng): Buffer {
  switch (rng.int(0, 8)) {
    case 0:
      return rng.bytes(rng.int(0, 64));
    case 1:
      return Buffer.alloc(0);
    case 2:
      return Buffer.from(rng.pick(['{}', '5', 'null', '"str"', 'true', '{"0": "ping"}']));
    case 3:
      return Buffer.from(rng.pick(['{', '['.repeat(300), '{"a":'.repeat(100), '\u0000\u0001', '{"prefix": 5}']));
    case 4:
      return deep(rng.int(5_000, 20_000)); // nested deeper than JSON.stringify recurses
    case 5:
      return Buffer.from('\xff\xfe[', 'latin1');
    case 6:
      return Buffer.from('["ping",', 'utf8');
    default:
      return Buffer.from('not json at all', 'utf8');
  }
}

/** Odd arguments that still make a JSON array (never an error on their own). */
function oddArgs(rng: Prng): Buffer {
  switch (rng.int(0, 5)) {
    case 0:
      return json([1, 2.5, true, null, { a: 1 }, [1, [2]]]);
    case 1:
      return json(Array.from({ length: rng.int(100, 3_000) }, (_, i) => i));
    case 2:
      return json(['ping', 'x'.repeat(rng.int(1_000, 50_000))]);
    case 3:
      return json([{ __vip_bytes__: 5 }, { __vip_bytes__: '!!notbase64' }, { __vip_bytes__: 'AAEC', more: 1 }]);
    case 4:
      return json([deepValue(rng.int(10, 200))]);
    default:
      return json([]);
  }
}

function deepValue(n: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < n; i++) v = [v];
  return v;
}

/** A valid message with one field broken, added, or made odd. */
function mutated(rng: Prng, shot: Shot): Shot {
  const o = { ...shot.options, headers: { ...(shot.options.headers as Record<string, unknown>) } };
  const headers = o.headers as Record<string, unknown>;
  const vipQueue = shot.target !== 'pubsub';
  switch (rng.int(0, 13)) {
    case 0:
      delete o.appId;
      return { ...shot, options: o, verdict: vipQueue ? 'invalid' : shot.verdict };
    case 1:
      o.appId = rng.pick(['nodot', '', 'router', '.', `${INSTANCE}.`, 'other.x.y', `${INSTANCE}.router`]);
      return {
        ...shot,
        options: o,
        verdict:
          vipQueue &&
          (o.appId.indexOf('.') < 0 || (shot.target === 'router' && ['.', `${INSTANCE}.`, `${INSTANCE}.router`].includes(o.appId)))
            ? 'invalid'
            : 'either',
      };
    case 2:
      if (rng.next() < 0.5) delete o.type;
      else o.type = rng.pick(['', ' ', '\t']);
      return { ...shot, options: o, verdict: vipQueue ? 'invalid' : shot.verdict };
    case 3:
      if (rng.next() < 0.5) delete o.messageId;
      else o.messageId = rng.pick(['', 'é'.repeat(100), '\u0000', 'x'.repeat(255)]);
      return { ...shot, options: o, verdict: 'either' };
    case 4:
      o.userId = 'guest'; // the broker checks user_id against the connection's user: any other closes the channel
      o.contentType = rng.pick(['text/plain', '', 'application/octet-stream', 'ü/ü']);
      o.contentEncoding = rng.pick(['gzip', '', 'utf-16', '\u0000']);
      return { ...shot, options: o, verdict: shot.verdict };
    case 5:
      headers[rng.pick(['recipient', 'user', 'proto'])] = oddValue(rng);
      return { ...shot, options: o, verdict: 'either' };
    case 6:
      headers.proto = rng.pick(['VIP2', 'vip', '', 'RMQ']);
      return { ...shot, options: o, verdict: vipQueue ? 'invalid' : shot.verdict };
    case 7:
      for (let i = 0; i < rng.int(1, 6); i++) headers[`x-${rng.int(0, 99)}`] = oddValue(rng);
      return { ...shot, options: o };
    case 8: {
      const { headers: _dropped, ...bare } = o;
      return { ...shot, options: bare, verdict: 'either' };
    }
    case 9:
      return { ...shot, content: vipQueue ? badVipBody(rng) : badPubsubBody(rng), verdict: 'invalid' };
    case 10:
      return { ...shot, content: vipQueue ? oddArgs(rng) : badPubsubBody(rng), verdict: vipQueue ? 'either' : 'invalid' };
    case 11:
      o.priority = rng.int(0, 255);
      o.expiration = String(rng.int(60_000, 120_000));
      o.correlationId = 'c'.repeat(rng.int(0, 255));
      o.replyTo = rng.pick(['', 'amq.rabbitmq.reply-to.nope', 'fz.ghost']);
      o.timestamp = rng.int(0, 2 ** 31);
      return { ...shot, options: o };
    case 12:
      headers.recipient = rng.pick([ROUTER_KEY, AGENT_KEY, 'other.router', '', '#']);
      return { ...shot, options: o };
    default:
      return shot;
  }
}

function badPubsubBody(rng: Prng): Buffer {
  switch (rng.int(0, 7)) {
    case 0:
      return json({ bus: '', headers: {}, message: 1 }); // no sender
    case 1:
      return json({ sender: rng.pick([5, null, {}, ['a']]), bus: '', message: 1 });
    case 2:
      return json({ sender: 'x', bus: rng.pick([5, null, true, {}, []]), message: 1 });
    case 3:
      return json({ sender: 'x', bus: '', headers: rng.pick([[], 'h', 5, null]), message: 1 });
    case 4:
      return json(rng.pick([[], ['x'], 'str', 5, null]));
    case 5:
      return rng.bytes(rng.int(0, 64));
    case 6:
      return deep(rng.int(5_000, 20_000));
    default:
      return Buffer.alloc(0);
  }
}

function shotFor(rng: Prng): Shot {
  const r = rng.next();
  const target: Target = r < 0.4 ? 'router' : r < 0.75 ? 'agent' : 'pubsub';
  const base = target === 'pubsub' ? validPubsub(rng) : validVip(rng, target);
  return rng.next() < 0.65 ? mutated(rng, base) : base;
}

/** A body just above `limit`: a JSON array holding one long string. */
function oversize(limit: number): Buffer {
  return Buffer.from(`["${'a'.repeat(limit)}"]`, 'utf8');
}

const RouterStatsSchema = z.looseObject({
  transport: z.looseObject({ received: z.number(), invalid: z.number(), reconnects: z.number() }),
});

let vh: TestVhost;
let platform: PlatformProcess;
let agent: Agent;
let caller: Agent;
let conn: ChannelModel;
let raw: ConfirmChannel;
const echoed: unknown[] = [];
const live: unknown[] = [];
const kept: unknown[] = [];
const badLogs: string[] = [];
const warnings = new Set<string>();
let exitCode: number | null | undefined;

const routerCounters = async () => RouterStatsSchema.parse(await caller.query.query('vip-router-stats')).transport;
const transportOf = (a: Agent) =>
  z.looseObject({ received: z.number(), invalid: z.number(), reconnects: z.number() }).parse(a.transportStats());
const pubsubOf = (a: Agent) =>
  z.looseObject({ received: z.number(), invalid: z.number(), other_bus: z.number(), unmatched: z.number() }).parse(a.pubsub?.stats());

beforeAll(async () => {
  vh = await freshVhost('rmq-fuzz');
  // shared login (opt-in): the fuzzed senders log in as guest and claim any identity (VOLTTRON's trust), so every message reaches the core
  platform = await startPlatform({ bus: 'rmq', rmq: { vhost: vh.vhost, url: AMQP_URL, sharedLogin: true }, instanceName: INSTANCE });
  void platform.exited.then((code) => (exitCode = code));
  platform.on('log', (line: { level?: unknown; event?: unknown }) => {
    if (line.level === 'error' || line.level === 'fatal') badLogs.push(JSON.stringify(line));
    if (line.level === 'warn') warnings.add(String(line.event));
  });
  const rmq = { url: AMQP_URL, vhost: vh.vhost, instanceName: INSTANCE, reconnect: FAST_RECONNECT, maxMessageBytes: AGENT_MAX_BYTES };
  agent = createRmqAgent({ identity: AGENT, rmq });
  agent.rpc.export('fuzz.echo', (...xs: unknown[]) => {
    echoed.push(xs);
    return xs;
  });
  await agent.pubsub!.subscribe('fuzz/', (_peer, _sender, _bus, topic) => void live.push(topic));
  await agent
    .subsystem<RmqPubSubSubsystem>('pubsub')!
    .subscribe('fuzz/', (_peer, _sender, _bus, topic) => void kept.push(topic), { persistentQueue: PERSISTENT });
  await agent.start();
  caller = createRmqAgent({ identity: CALLER, rmq });
  await caller.start();
  conn = await amqp.connect(`${AMQP_URL}/${encodeURIComponent(vh.vhost)}`, { noDelay: true });
  raw = await conn.createConfirmChannel();
  // a broker-side refusal would close the channel: fail loudly with its reason
  raw.on('error', (err: Error) => badLogs.push(`raw channel closed by the broker: ${err.message}`));
}, 60_000);

afterAll(async () => {
  await conn?.close().catch(() => undefined);
  await caller?.close();
  await agent?.close();
  await platform?.close();
  await vh?.dispose();
}, 60_000);

describe('RabbitMQ fuzz: router queue, agent queue, broker pubsub queues', () => {
  it(`survives ${TOTAL} random and mutated AMQP messages (seed ${SEED}) and still routes`, { timeout: 180_000 }, async () => {
    const rng = seededPrng(SEED);
    const router0 = await routerCounters();
    const agent0 = transportOf(agent);
    const pubsub0 = pubsubOf(agent);
    const sent: Record<Target, Record<Verdict, number>> = {
      router: { invalid: 0, valid: 0, either: 0 },
      agent: { invalid: 0, valid: 0, either: 0 },
      pubsub: { invalid: 0, valid: 0, either: 0 },
    };
    const fire = (s: Shot): void => {
      raw.publish(s.exchange, s.routingKey, s.content, s.options);
      sent[s.target][s.verdict] += 1;
    };
    for (let i = 0; i < TOTAL; i++) {
      fire(shotFor(rng));
      if (i % CONFIRM_WINDOW === CONFIRM_WINDOW - 1) await raw.waitForConfirms();
    }
    // over the size limits: the router's (64 MiB) and the agent's and its pubsub's (256 KiB)
    const ping = vipShot(rng, 'router', ROUTER_KEY, `${INSTANCE}.ghost`, 'ping', ['ping']);
    for (let i = 0; i < ROUTER_OVERSIZE; i++) fire({ ...ping, content: oversize(ROUTER_MAX_BYTES), verdict: 'invalid' });
    for (let i = 0; i < 5; i++) {
      fire({
        ...vipShot(rng, 'agent', AGENT_KEY, `${INSTANCE}.ghost`, 'ping', ['ping']),
        content: oversize(AGENT_MAX_BYTES),
        verdict: 'invalid',
      });
      fire({ ...validPubsub(rng), content: oversize(AGENT_MAX_BYTES), verdict: 'invalid' });
    }
    await raw.waitForConfirms();
    expect(badLogs).toEqual([]);
    const total = (t: Target) => sent[t].invalid + sent[t].valid + sent[t].either;

    // The router: its queue is FIFO, so this query is answered after every message above was taken.
    const router1 = await routerCounters();
    // A message that broke a consumer would close its channel: the link restarts and the exclusive
    // queue goes, with its backlog (seen before amqpToVip refused over-deep arguments).
    expect(router1.reconnects, platform.stderrTail(20)).toBe(router0.reconnects);
    expect([...warnings].filter((e) => e.startsWith('rmq.link'))).toEqual([]);
    const took = router1.received - router0.received + router1.invalid - router0.invalid;
    expect(took).toBeGreaterThanOrEqual(total('router')); // (plus this test's own requests and the agents' replies bouncing)
    expect(router1.invalid - router0.invalid).toBeGreaterThanOrEqual(sent.router.invalid);
    expect(router1.received - router0.received).toBeGreaterThanOrEqual(sent.router.valid);

    // The agent's queue: every delivery is received or counted invalid.
    await waitFor(
      () => {
        const s = transportOf(agent);
        return s.received - agent0.received + s.invalid - agent0.invalid >= total('agent');
      },
      { timeoutMs: 60_000, what: `the agent taking its ${total('agent')} fuzz messages` },
    );
    expect(transportOf(agent).invalid - agent0.invalid).toBeGreaterThanOrEqual(sent.agent.invalid);
    expect(transportOf(agent).reconnects).toBe(agent0.reconnects);

    // Broker pubsub: each message reaches both subscription queues and is counted exactly once in each.
    await waitFor(
      () => {
        const s = pubsubOf(agent);
        const counted =
          s.received + s.invalid + s.other_bus + s.unmatched - (pubsub0.received + pubsub0.invalid + pubsub0.other_bus + pubsub0.unmatched);
        return counted >= 2 * total('pubsub');
      },
      { timeoutMs: 60_000, what: `broker pubsub counting ${2 * total('pubsub')} deliveries` },
    );
    const pubsub1 = pubsubOf(agent);
    expect(
      pubsub1.received +
        pubsub1.invalid +
        pubsub1.other_bus +
        pubsub1.unmatched -
        (pubsub0.received + pubsub0.invalid + pubsub0.other_bus + pubsub0.unmatched),
    ).toBe(2 * total('pubsub'));
    expect(pubsub1.invalid - pubsub0.invalid).toBeGreaterThanOrEqual(2 * sent.pubsub.invalid);
    console.info(
      `rmq fuzz (seed ${SEED}): sent ${JSON.stringify(sent)}; router +${router1.invalid - router0.invalid} invalid of +${took}; ` +
        `agent ${JSON.stringify(transportOf(agent))}; pubsub ${JSON.stringify(pubsub1)}; fuzz.echo ran ${echoed.length} times; ` +
        `agent counters ${JSON.stringify(agent.stats())}; platform warnings ${JSON.stringify([...warnings])}`,
    );

    // Still alive and routing.
    expect(exitCode).toBeUndefined();
    expect(await caller.ping.ping('', ['after-fuzz'])).toEqual(['after-fuzz']);
    await agent.ping.ping('', ['back']); // a spoofed agentstop may have dropped it from the router's table: its next message re-registers it
    expect(await caller.peerlist.list()).toEqual(expect.arrayContaining([AGENT, CALLER, 'control', 'platform.auth']));
    expect(await caller.rpc.call(AGENT, 'fuzz.echo', 'after')).toEqual(['after']);
    expect(await agent.rpc.call('control', 'stats.enabled')).toBe(false);
    const liveBefore = live.length;
    const keptBefore = kept.length;
    expect(await caller.pubsub!.publish('fuzz/after', { message: { ok: true } })).toBe(1); // one subscriber (two queues)
    await waitFor(() => live.length > liveBefore && kept.length > keptBefore, {
      timeoutMs: 10_000,
      what: 'the post-fuzz publish at both subscriptions',
    });
    expect(live.slice(liveBefore)).toContain('fuzz/after');
    expect(kept.slice(keptBefore)).toContain('fuzz/after');
    expect(pubsubOf(agent).received).toBeGreaterThan(pubsub1.received);
    expect((await management.listQueues(vh.vhost)).has(PERSISTENT_QUEUE)).toBe(true);
    expect(badLogs).toEqual([]);
    // a crash trace or an unhandled rejection is not a JSON log line
    expect(
      platform
        .stderrTail(500)
        .split('\n')
        .filter((l) => !l.startsWith('{') && /error|unhandled|uncaught/i.test(l)),
    ).toEqual([]);
  });
});
