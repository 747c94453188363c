import { describe, expect, it } from 'vitest';
import {
  BindingTable,
  countSubscribers,
  listSubscriptions,
  prefixMatches,
  pubsubBindingArguments,
  pubsubBindingKey,
  queueOwner,
  topicKeyMatches,
} from '../../src/pubsub/pubsub-bindings.js';
import type { QueueBinding } from '../../src/admin/rabbitmq-management.js';
import { publishRoutingKey } from '../../src/pubsub/pubsub-mapping.js';

const ours = (identity: string, prefix: string, bus = '', match: 'segment' | 'character' = 'segment', q = 'q1'): QueueBinding => ({
  destination: `v1.${identity}.pubsub.${q}`,
  routingKey: pubsubBindingKey('v1', prefix, false, match),
  arguments: pubsubBindingArguments(bus, prefix, match),
});

describe('pubsub bindings', () => {
  it('binds segments, or only complete segments for character matching', () => {
    expect(pubsubBindingKey('v1', 'devices/camp', false, 'segment')).toBe('__pubsub__.v1.devices.camp.#');
    expect(pubsubBindingKey('v1', 'devices/camp', false, 'character')).toBe('__pubsub__.v1.devices.#');
    expect(pubsubBindingKey('v1', 'in/', false, 'character')).toBe('__pubsub__.v1.in.#');
    expect(pubsubBindingKey('v1', 't', true, 'character')).toBe('__pubsub__.*.#');
    expect(pubsubBindingKey('v1', '', false, 'segment')).toBe('__pubsub__.v1.#');
    expect(pubsubBindingKey('v1', 'ctl/', false, 'segment')).toBe('__pubsub__.v1.ctl.#');
  });

  it('matches prefixes per segment or per character', () => {
    expect(prefixMatches('devices/camp', 'devices/campus/x', 'segment')).toBe(false);
    expect(prefixMatches('devices/camp', 'devices/campus/x', 'character')).toBe(true);
    expect(prefixMatches('devices/campus', 'devices/campus/x', 'segment')).toBe(true);
    expect(prefixMatches('in/', 'in/x', 'character')).toBe(true);
    expect(prefixMatches('', 'any', 'segment')).toBe(true);
    expect(prefixMatches('ctl/', 'ctl/x', 'segment')).toBe(true);
    expect(prefixMatches('heartbeat/a.b', 'heartbeat/a.b', 'segment')).toBe(true);
  });

  it('matches AMQP topic keys (* one word, # zero or more; publishes end in a literal #)', () => {
    expect(topicKeyMatches('__pubsub__.v1.t.#', '__pubsub__.v1.t.test.foo.#')).toBe(true);
    expect(topicKeyMatches('__pubsub__.*.t.#', '__pubsub__.v2.t.#')).toBe(true);
    expect(topicKeyMatches('__pubsub__.v1.t.test.foo.#', '__pubsub__.v1.t.x.#')).toBe(false);
    expect(topicKeyMatches('__pubsub__.v1.#', '__pubsub__.v1.#')).toBe(true);
    expect(topicKeyMatches('a.*', 'a')).toBe(false);
  });

  it('counts distinct subscribers on the bus; Python bindings (no arguments) count on every bus', () => {
    const key = publishRoutingKey('v1', 't/test/foo');
    const bindings = [
      ours('sub', 't'),
      ours('sub', 't/test', '', 'segment', 'q2'),
      ours('other', 'nomatch'),
      ours('busy', 't', 'special'),
      { destination: 'v1.py.pubsub.abc', routingKey: '__pubsub__.v1.t.#', arguments: {} },
    ];
    expect(countSubscribers(bindings, 'v1', 't/test/foo', '', key)).toBe(2);
    expect(countSubscribers(bindings, 'v1', 't/test/foo', 'special', key)).toBe(2);
    const char = [ours('c', 'in/', '', 'character'), ours('d', 'inx', '', 'character')];
    expect(countSubscribers(char, 'v1', 'in/x', '', publishRoutingKey('v1', 'in/x'))).toBe(1);
  });

  it('a BindingTable counts as countSubscribers, once per bus and topic', () => {
    const bindings = [ours('sub', 't'), ours('busy', 't', 'special')];
    const table = new BindingTable(bindings, 'v1');
    const key = publishRoutingKey('v1', 't/x');
    expect(table.count('t/x', '', key)).toBe(1);
    bindings.push(ours('late', 't')); // the table is one read: later bindings belong to the next one
    expect(table.count('t/x', '', key)).toBe(1);
    expect(table.count('t/x', 'special', key)).toBe(1);
    expect(new BindingTable(bindings, 'v1').count('t/x', '', key)).toBe(2);
  });

  it('lists [bus, prefix, member] rows like the router, forward and reverse', () => {
    const bindings = [ours('me', 'devices'), ours('me', 'devices/ahu', 'b1'), ours('you', 'devices/vav'), ours('me', 'other')];
    const q = { instance: 'v1', identity: 'me', prefix: 'devices', bus: null, subscribed: false, reverse: false, allPlatforms: false };
    expect(listSubscriptions(bindings, q).sort()).toEqual([
      ['', 'devices', true],
      ['', 'devices/vav', false],
      ['b1', 'devices/ahu', true],
    ]);
    expect(listSubscriptions(bindings, { ...q, subscribed: true, bus: '' })).toEqual([['', 'devices', true]]);
    expect(listSubscriptions(bindings, { ...q, prefix: 'devices/ahu/1', reverse: true }).sort()).toEqual([
      ['', 'devices', true],
      ['b1', 'devices/ahu', true],
    ]);
  });

  it('finds the owner of a subscription queue', () => {
    expect(queueOwner('v1.agent.x.pubsub.persistent.keep', 'v1')).toBe('agent.x');
    expect(queueOwner('elsewhere', 'v1')).toBe('elsewhere');
  });
});
