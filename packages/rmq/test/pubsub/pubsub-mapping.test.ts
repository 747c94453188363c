import { describe, expect, it } from 'vitest';
import { InvalidPayloadError } from '@vip/protocol';
import { SpoofedSenderError, type SenderPolicy } from '../../src/transport/sender-trust.js';
import {
  decodePubsubDelivery,
  encodePubsubPublish,
  publishRoutingKey,
  subscriptionBindingKey,
  topicFromRoutingKey,
} from '../../src/pubsub/pubsub-mapping.js';

describe('RMQ pubsub wire format (docs/protocol.md 7.6)', () => {
  it('builds routing and binding keys with the trailing # word', () => {
    expect(publishRoutingKey('v1', 'devices/campus/ahu1')).toBe('__pubsub__.v1.devices.campus.ahu1.#');
    expect(publishRoutingKey('v1', '')).toBe('__pubsub__.v1.#');
    expect(subscriptionBindingKey('v1', 'devices')).toBe('__pubsub__.v1.devices.#');
    expect(subscriptionBindingKey('v1', '')).toBe('__pubsub__.v1.#');
    expect(subscriptionBindingKey('v1', 'devices', true)).toBe('__pubsub__.*.devices.#');
  });
  it('reads the topic back (a dot in a topic comes back as /)', () => {
    expect(topicFromRoutingKey('__pubsub__.v1.devices.campus.#')).toEqual({ instance: 'v1', topic: 'devices/campus' });
    expect(topicFromRoutingKey(publishRoutingKey('v1', 'a.b/c'))).toEqual({ instance: 'v1', topic: 'a/b/c' });
    expect(topicFromRoutingKey('v1.agent')).toBeUndefined();
  });
  it('encodes a publish as VOLTTRON does and decodes it', () => {
    const p = encodePubsubPublish('v1', 'pub', { topic: 't/x', bus: '', headers: { h: 1 }, message: { temp: 21 } }, 'm1');
    expect(p.properties).toEqual({
      appId: 'v1.pub',
      messageId: 'm1',
      type: 'pubsub',
      contentType: 'application/json',
      headers: { recipient: '', proto: 'VIP', user: 'pub' },
    });
    const body = JSON.parse(p.content.toString()) as unknown;
    expect(body).toEqual({
      sender: 'pub',
      bus: '',
      headers: { h: 1, min_compatible_version: '5.0', max_compatible_version: '' },
      message: { temp: 21 },
    });
    expect(decodePubsubDelivery(p.routingKey, p.content)).toMatchObject({
      sender: 'pub',
      topic: 't/x',
      instance: 'v1',
      message: { temp: 21 },
    });
  });
  it('keeps a topic with a dot exact between our agents (x-vip-topic header, checked against the routing key)', () => {
    const p = encodePubsubPublish('v1', 'pub', { topic: 'heartbeat/a.b' }, 'm2');
    expect(p.routingKey).toBe('__pubsub__.v1.heartbeat.a.b.#');
    expect(decodePubsubDelivery(p.routingKey, p.content, p.properties.headers as Record<string, unknown>)).toMatchObject({
      topic: 'heartbeat/a.b',
    });
    expect(decodePubsubDelivery(p.routingKey, p.content)).toMatchObject({ topic: 'heartbeat/a/b' }); // as a Python agent reads it
    expect(decodePubsubDelivery(p.routingKey, p.content, { 'x-vip-topic': 'other/x' })).toMatchObject({ topic: 'heartbeat/a/b' });
  });
  it.each([
    ['v1.x', '{}'],
    ['__pubsub__.v1.t.#', 'not json'],
    ['__pubsub__.v1.t.#', '{"bus":""}'],
    ['__pubsub__.v1.t.#', '[1]'],
  ])('rejects %s %s with InvalidPayloadError', (key, body) => {
    expect(decodePubsubDelivery(key, Buffer.from(body))).toBeInstanceOf(InvalidPayloadError);
  });
  it("rejects a body above the receiver's maxMessageBytes unread", () => {
    const p = encodePubsubPublish('v1', 'pub', { topic: 't', message: 'x'.repeat(100) }, 'm3');
    expect(decodePubsubDelivery(p.routingKey, p.content, undefined, p.content.length)).not.toBeInstanceOf(InvalidPayloadError);
    const r = decodePubsubDelivery(p.routingKey, p.content, undefined, p.content.length - 1);
    expect(r).toBeInstanceOf(InvalidPayloadError);
    expect((r as InvalidPayloadError).message).toMatch(/exceeds maxMessageBytes/);
  });
  it('with a publisher user_id <instance>.<x>: app_id and body sender must both be x', () => {
    const p = encodePubsubPublish('v1', 'pub', { topic: 't', message: 1 }, 'm4');
    const at = (appId: unknown, userId: unknown, content = p.content) =>
      decodePubsubDelivery(p.routingKey, content, undefined, undefined, { instance: 'v1', appId, userId });
    expect(at('v1.pub', 'v1.pub')).toMatchObject({ sender: 'pub', message: 1 });
    expect(at('v1.other', 'v1.pub')).toBeInstanceOf(SpoofedSenderError);
    const forged = Buffer.from(JSON.stringify({ sender: 'other', bus: '', headers: {}, message: 1 }));
    const r = at('v1.pub', 'v1.pub', forged);
    expect(r).toBeInstanceOf(SpoofedSenderError);
    expect((r as SpoofedSenderError).claimed).toBe('v1.other');
    // no proof (Python agents, a shared user): unchecked as before
    expect(at('v1.other', undefined)).toMatchObject({ sender: 'pub' });
    expect(at('v1.other', 'guest')).toMatchObject({ sender: 'pub' });
  });
  it('platform identities: proven by the platform user v1.router only; unproven ones refused where proof is required', () => {
    const fromControl = encodePubsubPublish('v1', 'control', { topic: 't', message: 1 }, 'm5');
    const required: SenderPolicy = { instance: 'v1', proof: 'required', legacyPeers: new Set<string>() };
    const at = (appId: unknown, userId: unknown, policy = required) =>
      decodePubsubDelivery(fromControl.routingKey, fromControl.content, undefined, undefined, { instance: 'v1', policy, appId, userId });
    expect(at('v1.control', 'v1.router')).toMatchObject({ sender: 'control' });
    expect(at('v1.control', 'v1.control')).toBeInstanceOf(SpoofedSenderError); // an agent user named like the service
    expect(at('v1.control', undefined)).toBeInstanceOf(SpoofedSenderError);
    expect(at('v1.alice', undefined)).toBeInstanceOf(SpoofedSenderError); // body sender control, unproven
    expect(at('v1.control', undefined, { ...required, proof: 'optional' })).toMatchObject({ sender: 'control' }); // shared login: as VOLTTRON
    const fromAlice = encodePubsubPublish('v1', 'alice', { topic: 't', message: 2 }, 'm6');
    expect(
      decodePubsubDelivery(fromAlice.routingKey, fromAlice.content, undefined, undefined, {
        instance: 'v1',
        policy: required,
        appId: 'v1.alice',
        userId: 'v1.router',
      }),
    ).toBeInstanceOf(SpoofedSenderError); // the platform user proves only platform identities
  });
  it("the publisher's user: what user_id proves, the proxy's header for its ZeroMQ peer, nothing unproven", () => {
    const required: SenderPolicy = { instance: 'v1', proof: 'required', legacyPeers: new Set<string>(['py']) };
    const from = (identity: string, user?: string) => encodePubsubPublish('v1', identity, { topic: 't', message: 1 }, 'm7', user);
    const userOf = (p: ReturnType<typeof from>, appId: string, userId: unknown) => {
      const d = decodePubsubDelivery(p.routingKey, p.content, p.properties.headers as Record<string, unknown>, undefined, {
        instance: 'v1',
        policy: required,
        appId,
        userId,
      });
      return d instanceof InvalidPayloadError ? d : d.user;
    };
    expect(userOf(from('alice', 'v1.admin'), 'v1.alice', 'v1.alice')).toBe('v1.alice'); // the header it wrote counts for nothing
    expect(userOf(from('zpeer', 'v1.zpeer.user'), 'v1.zpeer', 'v1.zmq.proxy.router')).toBe('v1.zpeer.user'); // the proxy's word
    expect(userOf(from('admin'), 'v1.admin', 'v1.zmq.proxy.router')).toBe(''); // the proxy wrote no user of this instance
    expect(userOf(from('mallory', 'v1.admin'), 'v1.mallory', undefined)).toBe(''); // unproven
    expect(userOf(from('py', 'v1.admin'), 'v1.py', undefined)).toBe('v1.py'); // a legacy peer: its own user only
    expect(from('a').properties.headers).toMatchObject({ user: 'a' }); // VOLTTRON's header by default
  });
});
