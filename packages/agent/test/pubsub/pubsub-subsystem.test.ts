import { silentLogger, textFrame, TimeoutError, type Frame, type VipMessage } from '@vip/protocol';
import { describe, expect, it } from 'vitest';
import type { AgentCore, OutgoingMessage, RequestOptions } from '../../src/subsystem.js';
import { PubSubSubsystem } from '../../src/pubsub/pubsub-subsystem.js';

/** An AgentCore that records what the subsystem sends and lets the test answer requests. */
function fakeCore() {
  const sent: OutgoingMessage[] = [];
  const pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let n = 0;
  const key = (id: Frame | string) => (typeof id === 'string' ? id : id.toString('latin1'));
  const core: AgentCore = {
    identity: 'cap.agent',
    logger: silentLogger,
    connected: true,
    publisher: undefined,
    providePublisher: () => {},
    nextId: () => `id-${++n}`,
    send: async (m) => void sent.push(m),
    request: <T>(m: Omit<OutgoingMessage, 'id'>, _o?: RequestOptions) => {
      const id = `req-${++n}`;
      sent.push({ ...m, id });
      return new Promise<T>((resolve, reject) => pending.set(id, { resolve: resolve as (v: unknown) => void, reject }));
    },
    expect: <T>(id: string, o: RequestOptions) =>
      new Promise<T>((resolve, reject) => {
        const timer =
          o.timeoutMs === undefined
            ? undefined
            : setTimeout(() => {
                pending.delete(id);
                reject(new TimeoutError('pubsub publish', o.timeoutMs ?? 0));
              }, o.timeoutMs);
        pending.set(id, { resolve: (v) => (clearTimeout(timer), resolve(v as T)), reject: (e) => (clearTimeout(timer), reject(e)) });
      }),
    settle: (id, value) => {
      const p = pending.get(key(id));
      p?.resolve(value);
      return pending.delete(key(id));
    },
    fail: (id, error) => {
      const p = pending.get(key(id));
      p?.reject(error);
      return pending.delete(key(id));
    },
    subsystem: () => undefined,
  };
  const args = (m: OutgoingMessage | undefined) => (m?.args ?? []).map((a) => (typeof a === 'string' ? a : a.toString('latin1')));
  return { core, sent, args };
}

const reply = (id: string, ...args: Frame[]): VipMessage => ({
  peer: Buffer.alloc(0),
  user: textFrame('cap.agent'),
  id: textFrame(id),
  subsystem: textFrame('pubsub'),
  args,
});

describe('PubSubSubsystem wire format (agent_pubsub_* transcripts)', () => {
  it("subscribe, publish, list and unsubscribe frames equal a Python agent's; replies decode", async () => {
    const { core, sent, args } = fakeCore();
    const pubsub = new PubSubSubsystem(core);

    const sub = pubsub.subscribe('cap/topic', () => {});
    expect(args(sent[0])).toEqual(['subscribe', '{"prefix": "cap/topic", "bus": "", "all_platforms": false}']);
    pubsub.handle(reply(String(sent[0]?.id), textFrame('request_response'), Buffer.from([1])));
    await sub;

    const pub = pubsub.publish('cap/topic/x', { headers: { 'Content-Type': 'json' }, message: { v: 1.5, l: [1, 'a'] } });
    expect(args(sent[1])).toEqual([
      'publish',
      'cap/topic/x',
      '{"bus": "", "headers": {"Content-Type": "json", "min_compatible_version": "3.0", "max_compatible_version": ""}, "message": {"v": 1.5, "l": [1, "a"]}}',
    ]);
    pubsub.handle(reply(String(sent[1]?.id), textFrame('request_response'), Buffer.from('01000000', 'hex')));
    expect(await pub).toBe(1);

    const list = pubsub.list({ prefix: 'cap' });
    expect(args(sent[2])).toEqual(['list', '{"prefix": "cap", "all_platforms": false, "subscribed": true, "reverse": false, "bus": ""}']);
    pubsub.handle(reply(String(sent[2]?.id), textFrame('list_response'), textFrame('[["", "cap/topic", true]]')));
    expect(await list).toEqual([['', 'cap/topic', true]]);

    const unsub = pubsub.unsubscribe('cap/topic');
    expect(args(sent[3])).toEqual(['unsubscribe', '{"internal": {"prefix": ["cap/topic"], "bus": ""}}']);
    pubsub.handle(reply(String(sent[3]?.id), textFrame('request_response'), Buffer.from([1])));
    await unsub;
  });

  it('synchronizes on connect with every bus, and once for a burst of stray deliveries', async () => {
    const { core, sent, args } = fakeCore();
    const pubsub = new PubSubSubsystem(core);
    void pubsub.subscribe('a', () => {}, { bus: 'b1' });
    void pubsub.subscribe('c', () => {}, { allPlatforms: true });
    sent.length = 0;
    await pubsub.onConnected();
    expect(args(sent[0])).toEqual(['synchronize', 'connected', '{"subscriptions": {"internal": {"b1": ["a"]}, "all": {"": ["c"]}}}']);
    const stray = (topic: string): VipMessage => ({
      peer: Buffer.alloc(0),
      user: Buffer.alloc(0),
      id: textFrame('x'),
      subsystem: textFrame('pubsub'),
      args: [textFrame('publish'), textFrame(topic), textFrame('{"sender": "s", "bus": "", "headers": {}, "message": 1}')],
    });
    pubsub.handle(stray('zzz/1'));
    pubsub.handle(stray('zzz/2'));
    await new Promise((r) => setImmediate(r));
    expect(sent.filter((m) => args(m)[0] === 'synchronize')).toHaveLength(2); // onConnected + one resync
    expect(pubsub.stats()).toMatchObject({ received: 2, unmatched: 2 });
  });
});

describe('PubSubSubsystem deliveries come from the router only', () => {
  it("drops a publish a peer sent (any sender it writes is a forgery), counted forged; the router's is delivered", async () => {
    const { core } = fakeCore();
    const pubsub = new PubSubSubsystem(core);
    const got: string[] = [];
    void pubsub.subscribe('alerts', (_peer, sender) => void got.push(sender));
    const delivery = (peer: string, sender: string): VipMessage => ({
      peer: textFrame(peer),
      user: Buffer.alloc(0),
      id: textFrame('x'),
      subsystem: textFrame('pubsub'),
      args: [textFrame('publish'), textFrame('alerts/a'), textFrame(JSON.stringify({ sender, bus: '', headers: {}, message: 1 }))],
    });
    pubsub.handle(delivery('evil.peer', 'platform.health'));
    pubsub.handle(delivery('', 'honest.publisher'));
    expect(got).toEqual(['honest.publisher']);
    expect(pubsub.stats()).toMatchObject({ received: 1, forged: 1 });
  });
});

describe('PubSubSubsystem.publishNoWait', () => {
  it('sends the frames publish sends, matches acks by id without a pending request, and paces at the window', async () => {
    const { core, sent, args } = fakeCore();
    const pubsub = new PubSubSubsystem(core, { noWaitWindow: 2 });
    const first = pubsub.publish('t/1', { message: { a: 'é' } });
    await pubsub.publishNoWait('t/1', { message: { a: 'é' } });
    expect(args(sent[1])).toEqual(args(sent[0]));
    expect(args(sent[1])[2]).toBe(
      '{"bus": "", "headers": {"min_compatible_version": "3.0", "max_compatible_version": ""}, "message": {"a": "\\u00e9"}}',
    );
    let second = false;
    const paced = pubsub.publishNoWait('t/2').then(() => (second = true));
    await new Promise((r) => setImmediate(r));
    expect(second).toBe(false); // two unacknowledged: the window is full
    pubsub.handle(reply(String(sent[1]?.id), textFrame('request_response'), Buffer.from([1, 0, 0, 0])));
    await paced;
    expect(pubsub.stats()).toMatchObject({ acked: 1, unacked: 1, acks_missing: 0 });
    pubsub.onDisconnected();
    expect(pubsub.stats()).toMatchObject({ acked: 1, unacked: 0, acks_missing: 1 });
    await expect(first).rejects.toMatchObject({ code: 'VIP_NOT_CONFIRMED' }); // sent, never answered
    // A late ack of a forgotten id is ignored, like any reply nobody waits for.
    pubsub.handle(reply(String(sent[2]?.id), textFrame('request_response'), Buffer.from([1, 0, 0, 0])));
    expect(pubsub.stats()).toMatchObject({ acked: 1, invalid: 0 });
  });
});

describe('PubSubSubsystem publishes across a lost connection (issue 10 item 11)', () => {
  const COUNT_1 = Buffer.from([1, 0, 0, 0]);
  const ack = (pubsub: PubSubSubsystem, m: OutgoingMessage | undefined) =>
    pubsub.handle(reply(String(m?.id), textFrame('request_response'), COUNT_1));

  it('rejects a publish sent before the disconnect at once: no reply can come on the next connection', async () => {
    const { core } = fakeCore();
    const pubsub = new PubSubSubsystem(core);
    const inFlight = pubsub.publish('t/1');
    pubsub.onDisconnected();
    await expect(inFlight).rejects.toMatchObject({ code: 'VIP_NOT_CONFIRMED', topic: 't/1' });
    expect(pubsub.stats()).toMatchObject({ not_confirmed: 1 });
  });

  it('keeps publishes made while disconnected and sends them after the synchronize, in call order, each resolving with its count', async () => {
    const { core, sent, args } = fakeCore();
    const pubsub = new PubSubSubsystem(core);
    pubsub.onDisconnected();
    const kept = [pubsub.publish('t/1'), pubsub.publish('t/2')];
    const noWait = pubsub.publishNoWait('t/3');
    const last = pubsub.publish('t/4');
    expect(sent).toHaveLength(0);
    expect(pubsub.stats()).toMatchObject({ outbox: 4 });
    await pubsub.onConnected();
    await noWait;
    expect(sent.map((m) => args(m).slice(0, 2).join(' '))).toEqual([
      'synchronize connected',
      'publish t/1',
      'publish t/2',
      'publish t/3',
      'publish t/4',
    ]);
    for (const m of [sent[1], sent[2], sent[4]]) ack(pubsub, m);
    expect(await Promise.all([...kept, last])).toEqual([1, 1, 1]);
    expect(pubsub.stats()).toMatchObject({ outbox: 0, outbox_flushed: 4, outbox_bytes: 0 });
  });

  it('rejects a kept publish whose timeout runs out with TimeoutError, and never sends it', async () => {
    const { core, sent, args } = fakeCore();
    const pubsub = new PubSubSubsystem(core, { timeoutMs: 20 });
    pubsub.onDisconnected();
    await expect(pubsub.publish('t/late')).rejects.toBeInstanceOf(TimeoutError);
    expect(pubsub.stats()).toMatchObject({ outbox: 0, outbox_expired: 1 });
    await pubsub.onConnected();
    expect(sent.map((m) => args(m)[0])).toEqual(['synchronize']);
  });

  it('refuses publishes beyond the outbox bounds at once (PublishQueueFullError), in count and in bytes', async () => {
    const { core } = fakeCore();
    const byCount = new PubSubSubsystem(core, { outbox: { maxMessages: 1 } });
    byCount.onDisconnected();
    const kept = byCount.publish('t/1');
    await expect(byCount.publish('t/2')).rejects.toMatchObject({ code: 'VIP_QUEUE_FULL', topic: 't/2' });
    await expect(byCount.publishNoWait('t/3')).rejects.toMatchObject({ code: 'VIP_QUEUE_FULL' });
    expect(byCount.stats()).toMatchObject({ outbox: 1, outbox_full: 2 });
    const byBytes = new PubSubSubsystem(fakeCore().core, { outbox: { maxBytes: 1_000 } });
    byBytes.onDisconnected();
    await expect(byBytes.publish('t/big', { message: 'x'.repeat(2_000) })).rejects.toMatchObject({ code: 'VIP_QUEUE_FULL' });
    byCount.close();
    void kept.catch(() => undefined);
  });

  it('a stop drops what was kept: a kept publishNoWait rejects with ClosedError, nothing is sent', async () => {
    const { core, sent } = fakeCore();
    const pubsub = new PubSubSubsystem(core);
    pubsub.onDisconnected();
    const noWait = pubsub.publishNoWait('t/1');
    pubsub.close();
    await expect(noWait).rejects.toMatchObject({ code: 'VIP_CLOSED' });
    await pubsub.onConnected();
    expect(sent.filter((m) => m.args[0] === 'publish')).toHaveLength(0);
  });
});
