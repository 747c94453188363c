import { silentLogger, textFrame, type Frame, type VipMessage } from '@vip/protocol';
import { describe, expect, it } from 'vitest';
import type { AgentCore, OutgoingMessage, RequestOptions } from '../subsystem.js';
import { PubSubSubsystem } from './pubsub-subsystem.js';

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
    expect: () => new Promise(() => {}),
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

const reply = (id: string, ...args: Frame[]): VipMessage => ({ peer: Buffer.alloc(0), user: textFrame('cap.agent'), id: textFrame(id), subsystem: textFrame('pubsub'), args });

describe('PubSubSubsystem wire format (agent_pubsub_* transcripts)', () => {
  it('subscribe, publish, list and unsubscribe frames equal a Python agent\'s; replies decode', async () => {
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
      peer: Buffer.alloc(0), user: Buffer.alloc(0), id: textFrame('x'), subsystem: textFrame('pubsub'),
      args: [textFrame('publish'), textFrame(topic), textFrame('{"sender": "s", "bus": "", "headers": {}, "message": 1}')],
    });
    pubsub.handle(stray('zzz/1'));
    pubsub.handle(stray('zzz/2'));
    await new Promise((r) => setImmediate(r));
    expect(sent.filter((m) => args(m)[0] === 'synchronize')).toHaveLength(2); // onConnected + one resync
    expect(pubsub.stats()).toMatchObject({ received: 2, unmatched: 2 });
  });
});

describe('PubSubSubsystem.publishNoWait', () => {
  it('sends the frames publish sends, matches acks by id without a pending request, and paces at the window', async () => {
    const { core, sent, args } = fakeCore();
    const pubsub = new PubSubSubsystem(core, { noWaitWindow: 2 });
    void pubsub.publish('t/1', { message: { a: 'é' } });
    await pubsub.publishNoWait('t/1', { message: { a: 'é' } });
    expect(args(sent[1])).toEqual(args(sent[0]));
    expect(args(sent[1])[2]).toBe('{"bus": "", "headers": {"min_compatible_version": "3.0", "max_compatible_version": ""}, "message": {"a": "\\u00e9"}}');
    let second = false;
    const paced = pubsub.publishNoWait('t/2').then(() => (second = true));
    await new Promise((r) => setImmediate(r));
    expect(second).toBe(false); // two unacknowledged: the window is full
    pubsub.handle(reply(String(sent[1]?.id), textFrame('request_response'), Buffer.from([1, 0, 0, 0])));
    await paced;
    expect(pubsub.stats()).toMatchObject({ acked: 1, unacked: 1, acks_missing: 0 });
    pubsub.onDisconnected();
    expect(pubsub.stats()).toMatchObject({ acked: 1, unacked: 0, acks_missing: 1 });
    // A late ack of a forgotten id is ignored, like any reply nobody waits for.
    pubsub.handle(reply(String(sent[2]?.id), textFrame('request_response'), Buffer.from([1, 0, 0, 0])));
    expect(pubsub.stats()).toMatchObject({ acked: 1, invalid: 0 });
  });
});
