import { describe, expect, it } from 'vitest';
import { PubSubService } from '../src/pubsub-service.js';
import { ProtectedTopics } from '../src/protected-topics.js';
import { MemoryRouterServices } from '@vip/testing';
import { hex, settle, text } from './frames.js';

const setup = (options: ConstructorParameters<typeof PubSubService>[0] = {}) => new MemoryRouterServices(new PubSubService(options));
const sub = (prefix: string | string[], bus = '', all = false) => ['subscribe', { prefix, bus, all_platforms: all }];
const pub = (topic: string, message: unknown = 1, bus = '') => [
  'publish',
  topic,
  { bus, headers: { min_compatible_version: '3.0', max_compatible_version: '' }, message },
];

describe('PubSubService wire format (transcripts)', () => {
  it('answers subscribe with request_response 0x01 and user = sender (raw_pubsub_subscribe)', async () => {
    const r = setup();
    r.send('cap.raw', ['subscribe', '{"prefix": "cap/raw", "bus": "", "all_platforms": false}'], 'raw-24');
    await settle();
    const [reply] = r.take('cap.raw');
    expect(reply).toMatchObject({ from: '', user: 'cap.raw', id: 'raw-24', subsystem: 'pubsub' });
    expect(text(reply?.args[0])).toBe('request_response');
    expect(hex(reply?.args[1])).toBe('01');
  });

  it('delivers a publish with the Python payload and acks the count as 4-byte LE (raw_pubsub_publish)', async () => {
    const r = setup();
    r.send('cap.raw', sub('cap/raw'));
    await settle();
    r.take();
    r.send('cap.raw', ['publish', 'cap/raw/self', '{"bus": "", "headers": {"k": 1}, "message": [1, 2, 3]}'], 'raw-25');
    await settle();
    const [delivery, ack] = r.take('cap.raw');
    expect(delivery).toMatchObject({ from: '', user: '', id: 'raw-25', subsystem: 'pubsub' });
    expect(delivery?.args.map(text)).toEqual([
      'publish',
      'cap/raw/self',
      '{"sender": "cap.raw", "bus": "", "headers": {"k": 1}, "message": [1, 2, 3]}',
    ]);
    expect(ack).toMatchObject({ user: 'cap.raw', id: 'raw-25' });
    expect(text(ack?.args[0])).toBe('request_response');
    expect(hex(ack?.args[1])).toBe('01000000');
  });

  it('answers list with list_response rows (raw_pubsub_list_unsubscribe), legacy unsubscribe form', async () => {
    const r = setup();
    r.send('cap.raw', sub('cap/raw'));
    r.send('cap.raw', ['list', '{"prefix": "", "subscribed": true, "reverse": false, "bus": "", "all_platforms": false}'], 'raw-26');
    r.send('cap.raw', ['unsubscribe', '{"prefix": ["cap/raw"], "bus": "", "all_platforms": false}'], 'raw-27');
    await settle();
    const [, list, unsub] = r.take('cap.raw');
    expect(list?.args.map(text)).toEqual(['list_response', '[["", "cap/raw", true]]']);
    expect(hex(unsub?.args[1])).toBe('01');
    expect(r.service.index.size).toBe(0);
  });

  it('delivers the Python re-serialization for any body form (reused when already Python-formatted)', async () => {
    const r = setup();
    r.send('s', sub(''));
    const bodies: Array<[string, string]> = [
      ['{"bus": "", "headers": {"k": 1.0}, "message": 1.0}', '{"sender": "p", "bus": "", "headers": {"k": 1.0}, "message": 1.0}'],
      ['{"bus":"","headers":{"k":1},"message":[1,2]}', '{"sender": "p", "bus": "", "headers": {"k": 1}, "message": [1, 2]}'],
      ['{"bus": "", "message": 5}', '{"sender": "p", "bus": "", "headers": {}, "message": 5}'],
      ['{"bus": "", "headers": {}, "message": 5, "extra": 1}', '{"sender": "p", "bus": "", "headers": {}, "message": 5}'],
      ['{"bus": "", "headers": {}, "message": "caf\u00e9"}', '{"sender": "p", "bus": "", "headers": {}, "message": "caf\\u00e9"}'], // raw UTF-8 in, escaped out
    ];
    for (const [body] of bodies) r.send('p', ['publish', 't', body]);
    await settle();
    const got = r
      .take('s')
      .filter((d) => text(d.args[0]) === 'publish')
      .map((d) => text(d.args[2]));
    expect(got).toEqual(bodies.map(([, want]) => want));
  });

  it('escapes non-ASCII in delivered JSON like Python ensure_ascii', async () => {
    const r = setup();
    r.send('s', sub(''));
    r.send('p', pub('t', { name: 'café' }));
    await settle();
    const [, delivery] = r.take('s');
    expect(text(delivery?.args[2])).toContain('"message": {"name": "caf\\u00e9"}');
  });
});

describe('PubSubService behaviour (docs/protocol.md 11, 13)', () => {
  it('prefix granularity: subscribers of t, t/test, t/test/foo get 3/2/1 of three publishes', async () => {
    const r = setup();
    r.send('a', sub('t'));
    r.send('b', sub('t/test'));
    r.send('c', sub('t/test/foo'));
    r.send('d', sub('nomatch'));
    for (const topic of ['t/test/foo', 't/test/bar', 't/other']) r.send('p', pub(topic));
    await settle();
    const publishes = (to: string) => r.take(to).filter((d) => text(d.args[0]) === 'publish').length;
    expect([publishes('a'), publishes('b'), publishes('c'), publishes('d')]).toEqual([3, 2, 1, 0]);
    expect(r.take('p').map((d) => hex(d.args[1]))).toEqual(['03000000', '02000000', '01000000']);
  });

  it('unsubscribe stops delivery; unknown prefix is harmless; prefix null removes a whole bus', async () => {
    const r = setup();
    r.send('a', sub(['x', 'y', 'z']));
    r.send('a', ['unsubscribe', { internal: { prefix: ['x'], bus: '' } }]);
    r.send('a', ['unsubscribe', { internal: { prefix: ['never'], bus: '' } }]);
    expect(r.service.index.size).toBe(2);
    r.send('a', ['unsubscribe', { internal: { prefix: null, bus: '' } }]);
    expect(r.service.index.size).toBe(0);
    await settle();
    expect(r.take('a').every((d) => hex(d.args[1]) === '01')).toBe(true);
  });

  it("list and reverse list, subscribed=false shows other peers' prefixes", async () => {
    const r = setup();
    r.send('a', sub(['devices', 'devices/x', 'other']));
    r.send('b', sub('devices/x/y'));
    r.send('a', ['list', { prefix: 'devices', subscribed: true, reverse: false, bus: '', all_platforms: false }]);
    r.send('a', ['list', { prefix: 'devices/x/y/z', subscribed: false, reverse: true, bus: '', all_platforms: false }]);
    await settle();
    const lists = r
      .take('a')
      .filter((d) => text(d.args[0]) === 'list_response')
      .map((d) => JSON.parse(text(d.args[1])) as unknown[]);
    expect(lists[0]).toEqual(
      expect.arrayContaining([
        ['', 'devices', true],
        ['', 'devices/x', true],
      ]),
    );
    expect(lists[0]).toHaveLength(2);
    expect(lists[1]).toEqual(
      expect.arrayContaining([
        ['', 'devices', true],
        ['', 'devices/x', true],
        ['', 'devices/x/y', false],
      ]),
    );
    expect(lists[1]).toHaveLength(3);
  });

  it('delivers once per subscriber: overlapping prefixes, internal and all (fixes quirk 12.10)', async () => {
    const r = setup();
    r.send('a', sub(['t', 't/x', '']));
    r.send('a', sub('t', '', true));
    r.send('b', sub('t', '', true));
    r.send('p', pub('t/x/1'));
    await settle();
    expect(r.take('a').filter((d) => text(d.args[0]) === 'publish')).toHaveLength(1);
    expect(r.take('b').filter((d) => text(d.args[0]) === 'publish')).toHaveLength(1);
    expect(hex(r.take('p')[0]?.args[1])).toBe('02000000');
  });

  it('keeps buses apart', async () => {
    const r = setup();
    r.send('a', sub('t', 'bus1'));
    r.send('b', sub('t'));
    r.send('p', pub('t', 1, 'bus1'));
    await settle();
    expect(r.take('a').filter((d) => text(d.args[0]) === 'publish')).toHaveLength(1);
    expect(r.take('b').filter((d) => text(d.args[0]) === 'publish')).toHaveLength(0);
    const delivered = r.delivered;
    expect(delivered).toHaveLength(1); // the ack only
  });

  it("synchronize replaces the sender's subscriptions; peerDropped removes them", async () => {
    const r = setup();
    r.send('a', sub(['old1', 'old2']));
    r.send('a', ['synchronize', 'connected', { subscriptions: { internal: { '': ['new'] }, all: { b2: ['x'] } } }]);
    expect(
      r.service.index
        .subscriptionsOf('a')
        .map((s) => `${s.platform}:${s.bus}:${s.prefix}`)
        .sort(),
    ).toEqual(['all:b2:x', 'internal::new']);
    r.service.peerDropped(Buffer.from('a'));
    expect(r.service.index.size).toBe(0);
  });

  it('drops an unreachable subscriber everywhere and does not error the publisher', async () => {
    const r = setup();
    r.send('gone', sub('t'));
    r.send('ok', sub('t'));
    r.outcome.set('gone', 'unreachable');
    r.send('p', pub('t'));
    await settle();
    expect(r.dropped).toContain('gone');
    expect(r.service.index.subscriptionsOf('gone')).toEqual([]);
    expect(r.take('p').map((d) => d.subsystem)).toEqual(['pubsub']);
    expect(r.service.detailedStats().dropped.unreachable).toBe(1);
  });
});

describe('PubSubService protected topics', () => {
  const topics = ProtectedTopics.parse({
    'write-protect': [
      { topic: 'foo', capabilities: ['can_publish_to_foo'] },
      { topic: '/bar\\/.*/', capabilities: ['can_bar'] },
    ],
  }) as ProtectedTopics;

  it('refuses without capabilities: error -32001 with VOLTTRON text, count 0, nothing delivered', async () => {
    const r = setup({ protectedTopics: topics, capabilities: { p: ['other'] } });
    r.send('s', sub(''));
    r.send('p', pub('foo/1'), 'm9');
    r.send('p', pub('bar/1'), 'm10');
    await settle();
    expect(r.take('s').filter((d) => text(d.args[0]) === 'publish')).toHaveLength(0);
    const [err, ack, err2] = r.take('p');
    expect(err).toMatchObject({ subsystem: 'error', user: 'p', id: 'm9' });
    expect(err?.args.map(text)).toEqual([
      '-32001',
      `to publish to topic "foo/1" requires capabilities ['can_publish_to_foo'], but capability list ['other'] was provided`,
      '',
      'pubsub',
    ]);
    expect(hex(ack?.args[1])).toBe('00000000');
    expect(text(err2?.args[1])).toContain('"bar/1"');
    expect(r.service.detailedStats().rejected.unauthorized).toBe(2);
  });

  it('allows a user with the capability and refuses a user absent from the map', async () => {
    const r = setup({ protectedTopics: topics });
    r.send('s', sub(''));
    r.send('platform.auth', ['auth_update', { capabilities: { p: { can_publish_to_foo: null } } }]);
    r.send('p', pub('foo'));
    r.send('q', pub('foo'));
    await settle();
    expect(
      r
        .take('s')
        .filter((d) => text(d.args[0]) === 'publish')
        .map((d) => JSON.parse(text(d.args[2])).sender),
    ).toEqual(['p']);
    expect(r.take('q')[0]?.subsystem).toBe('error');
  });

  it('accepts auth_update/protected_update only from the auth identity', async () => {
    const r = setup();
    r.send('intruder', ['protected_update', { 'write-protect': [{ topic: 'x', capabilities: 'c' }] }], 'i1');
    r.send('platform.auth', ['protected_update', { 'write-protect': [{ topic: 'x', capabilities: 'c' }] }]);
    r.send('intruder', ['auth_update', { capabilities: { intruder: ['c'] } }]);
    r.send('intruder', pub('x'));
    await settle();
    const replies = r.take('intruder');
    expect(replies.map((d) => text(d.args[0]))).toEqual(['13', '13', '-32001', 'request_response']);
    expect(text(replies[0]?.args[1])).toContain('accepted only from "platform.auth"');
  });
});

describe('PubSubService robustness and back-pressure', () => {
  it('answers unknown ops and malformed payloads with an error reply and never throws', async () => {
    const r = setup();
    r.send('a', ['frobnicate'], 'x1');
    r.send('a', ['subscribe', 'not json'], 'x2');
    r.send('a', ['subscribe', '[1, 2]'], 'x3');
    r.send('a', ['publish'], 'x4');
    r.send('a', ['unsubscribe', '{}'], 'x5');
    r.send('a', [], 'x6');
    await settle();
    const replies = r.take('a');
    expect(replies.map((d) => `${d.id}:${text(d.args[0])}`)).toEqual(['x1:95', 'x2:22', 'x3:22', 'x4:22', 'x5:22', 'x6:22']);
    expect(replies.every((d) => d.subsystem === 'error' && text(d.args[3]) === 'pubsub')).toBe(true);
    expect(text(replies[2]?.args[1])).toBe(
      'Invalid argument: invalid pubsub.subscribe: (root): Invalid input: expected object, received array',
    );
  });

  it('survives random frames (fuzz)', async () => {
    const r = setup();
    const ops = [
      'subscribe',
      'unsubscribe',
      'publish',
      'list',
      'synchronize',
      'auth_update',
      'protected_update',
      'external_list',
      'external_publish',
      'x',
    ];
    const values = [
      '{}',
      '[]',
      'null',
      '1',
      '"s"',
      '{"prefix": 5}',
      '{"prefix": null}',
      '{"internal": 3}',
      '{"subscriptions": []}',
      'connected',
      '\u0000\u00ff',
      '',
    ];
    let seed = 7;
    const next = (n: number) => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
    for (let i = 0; i < 2000; i++) {
      const args = [ops[next(ops.length)] as string];
      for (let k = next(4); k > 0; k--) args.push(values[next(values.length)] as string);
      expect(r.send(`p${next(3)}`, args, 'f', next(2) ? 'platform.auth' : 'x')).toBe(true);
    }
    await settle();
  });

  it('reports EAGAIN to the publisher as error 11 and counts it', async () => {
    const r = setup();
    r.send('slow', sub('t'));
    r.send('fast', sub('t'));
    r.outcome.set('slow', 'again');
    r.send('p', pub('t'), 'm5');
    await settle();
    expect(r.take('fast').filter((d) => text(d.args[0]) === 'publish')).toHaveLength(1);
    const replies = r.take('p');
    const err = replies.find((d) => d.subsystem === 'error');
    expect(err?.args.map(text)).toEqual(['11', 'Resource temporarily unavailable', 'slow', 'pubsub']);
    expect(err?.id).toBe('m5');
    const stats = r.service.detailedStats();
    expect(stats.dropped.again).toBe(1);
    expect(stats.droppedBySubscriber).toEqual([{ peer: 'slow', dropped: 1 }]);
    expect(r.service.stats()).toMatchObject({ 'dropped.again': 1, 'dropped_by_subscriber.slow': 1, delivered: 1 });
  });

  it("bounds a stalled subscriber's backlog without stalling the others", async () => {
    const r = setup({ maxPendingPerSubscriber: 5 });
    r.send('stalled', sub('t'));
    r.send('fast', sub('t'));
    await settle();
    r.outcome.set('stalled', 'hang');
    for (let i = 0; i < 20; i++) {
      r.send('p', pub('t'));
      await settle(); // the transport takes the fast subscriber's messages between publishes
    }
    expect(r.take('fast').filter((d) => text(d.args[0]) === 'publish')).toHaveLength(20);
    const stats = r.service.detailedStats();
    expect(stats.pending).toBe(5);
    expect(stats.dropped.backlog).toBe(15);
    r.outcome.delete('stalled');
    r.release();
    await settle();
    expect(r.service.detailedStats().pending).toBe(0);
    expect(r.service.detailedStats().delivered).toBe(25);
  });

  it("bounds a stalled subscriber's backlog in bytes, whatever the count", async () => {
    const r = setup({ maxPendingPerSubscriber: 1000, maxPendingBytesPerSubscriber: 64 * 1024 });
    r.send('stalled', sub('t'));
    r.send('fast', sub('t'));
    await settle();
    r.take();
    r.outcome.set('stalled', 'hang');
    const big = 'x'.repeat(20 * 1024); // each delivery carries ~20 KiB: three fit in 64 KiB, the fourth does not
    for (let i = 0; i < 10; i++) {
      r.send('p', pub('t', big), `big${i}`);
      await settle();
    }
    expect(r.take('fast').filter((d) => text(d.args[0]) === 'publish')).toHaveLength(10);
    const stats = r.service.detailedStats();
    expect(stats.pending).toBe(3);
    expect(stats.pendingBytes).toBeGreaterThan(60 * 1024);
    expect(stats.pendingBytes).toBeLessThanOrEqual(64 * 1024);
    expect(stats.dropped.backlog).toBe(7);
    // each drop is reported to the publisher as VOLTTRON reports EAGAIN
    const errors = r.take('p').filter((d) => d.subsystem === 'error');
    expect(errors.map((e) => e.args.map(text))).toEqual(
      Array.from({ length: 7 }, () => ['11', 'Resource temporarily unavailable', 'stalled', 'pubsub']),
    );
    r.outcome.delete('stalled');
    r.release();
    await settle();
    expect(r.service.detailedStats()).toMatchObject({ pending: 0, pendingBytes: 0 });
  });

  it('bounds the bytes pending for all subscribers together', async () => {
    const r = setup({ maxPendingBytesPerSubscriber: 1024 * 1024, maxPendingBytes: 100 * 1024 });
    for (const s of ['s1', 's2', 's3']) r.send(s, sub('t'));
    await settle();
    r.take();
    for (const s of ['s1', 's2', 's3']) r.outcome.set(s, 'hang');
    r.send('p', pub('t', 'y'.repeat(40 * 1024)));
    await settle();
    const stats = r.service.detailedStats();
    expect(stats.pending).toBe(2); // 2 x 40 KiB fit in 100 KiB, the third subscriber's copy does not
    expect(stats.dropped.backlog).toBe(1);
    r.release();
  });

  it('sends counts a Python agent can decode (quirk 12.4)', async () => {
    const r = setup();
    for (let i = 0; i < 130; i++) r.send(`s${i}`, sub('t'));
    await settle();
    r.take();
    r.send('p', pub('t'));
    await settle();
    const ack = r.take('p')[0];
    expect(hex(ack?.args[1])).toBe('7f000000');
    expect(r.service.detailedStats().countsClamped).toBe(1);
  });
});

describe('PubSubService multi-platform seam', () => {
  it('advertises all-platform prefixes and forwards matching publishes to remote platforms', async () => {
    const sent: Array<{ instance: string; args: string[] }> = [];
    const r = setup({
      externalPlatforms: {
        connected: () => ['remote1'],
        send: (instance, _u, _i, args) => void sent.push({ instance, args: args.map(text) }),
      },
    });
    r.platformLinks.add('link');
    r.send('a', sub('devices', '', true));
    expect(sent[0]).toEqual({ instance: 'remote1', args: ['external_list', '{"test-instance": ["devices"]}'] });
    r.send('link', ['external_list', { remote1: ['alerts'] }]);
    r.send('p', pub('alerts/x'));
    await settle();
    expect(sent[1]?.args.slice(0, 2)).toEqual(['external_publish', 'alerts/x']);
    expect(hex(r.take('p')[0]?.args[1])).toBe('01000000');
    r.send('link', ['external_publish', 'devices/1', { sender: 'far', bus: '', headers: {}, message: 2 }]);
    await settle();
    const got = r.take('a').filter((d) => text(d.args[0]) === 'publish');
    expect(JSON.parse(text(got[0]?.args[2]))).toEqual({ sender: 'far', bus: '', headers: {}, message: 2 });
    r.service.platformDisconnected('remote1');
    expect(r.service.detailedStats().remotePlatforms).toBe(0);
  });
});

describe('PubSubService platform-level operations', () => {
  const body = (sender: string) => ({ sender, bus: '', headers: {}, message: 'forged' });

  it('refuses external_publish and external_list from a local agent with error 13, counted, nothing delivered or stored', async () => {
    const r = setup({
      protectedTopics: ProtectedTopics.parse({ 'write-protect': [{ topic: 'secure', capabilities: ['can_secure'] }] }) as ProtectedTopics,
    });
    r.send('victim.sub', sub(''));
    // The user frame claims a privileged user; the router proved `mallory`.
    r.send('mallory', ['external_publish', 'secure/x', body('platform.auth')], 'x1', 'mallory', 'admin');
    r.send('mallory', ['external_publish', 'open/x', body('thermostat')], 'x2');
    r.send('mallory', ['external_list', { elsewhere: ['secure'] }], 'x3');
    await settle();
    expect(r.take('victim.sub').filter((d) => text(d.args[0]) === 'publish')).toEqual([]);
    const replies = r.take('mallory');
    expect(replies.map((d) => [d.id, d.subsystem, text(d.args[0]), text(d.args[1])])).toEqual([
      ['x1', 'error', '13', 'Permission denied: pubsub external_publish is accepted only from a platform link'],
      ['x2', 'error', '13', 'Permission denied: pubsub external_publish is accepted only from a platform link'],
      ['x3', 'error', '13', 'Permission denied: pubsub external_list is accepted only from a platform link'],
    ]);
    expect(r.service.detailedStats()).toMatchObject({ rejected: { not_platform_link: 3 }, remotePlatforms: 0, published: 0 });
    expect(r.service.stats()['rejected.not_platform_link']).toBe(3);
  });

  it("a platform link's external_publish is checked against the link's proven user, not the user frame it wrote", async () => {
    const topics = ProtectedTopics.parse({ 'write-protect': [{ topic: 'secure', capabilities: ['can_secure'] }] }) as ProtectedTopics;
    const r = setup({ protectedTopics: topics, capabilities: { admin: { can_secure: null }, 'remote.link': {} } });
    r.platformLinks.add('remote.link');
    r.send('s', sub(''));
    r.send('instance.remote', ['external_publish', 'secure/x', body('far')], 'e1', 'remote.link', 'admin');
    r.send('instance.remote', ['external_publish', 'open/x', body('far')], 'e2', 'remote.link', 'admin');
    await settle();
    const got = r.take('s').filter((d) => text(d.args[0]) === 'publish');
    expect(got.map((d) => text(d.args[1]))).toEqual(['open/x']);
    expect(r.service.detailedStats().rejected).toMatchObject({ unauthorized: 1, not_platform_link: 0 });
  });
});
