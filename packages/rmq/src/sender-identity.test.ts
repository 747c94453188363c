import { describe, expect, it } from 'vitest';
import { InvalidPayloadError } from '@vip/protocol';
import { parseRmqLinkOptions } from './rmq-options.js';
import { agentUserOf, checkSender, publisherUserId, SpoofedSenderError } from './sender-identity.js';

const link = (o: Record<string, unknown> = {}) => parseRmqLinkOptions({ url: 'amqp://v1.alice:pw@127.0.0.1:5672', instanceName: 'v1', ...o });

describe('checkSender: a user_id <instance>.<x> proves the sender x', () => {
  it('accepts app_id equal to the agent user and hands on that user', () => {
    expect(checkSender('v1.alice', 'v1', 'v1.alice', 'm')).toBe('v1.alice');
    expect(checkSender('v1.platform.driver', 'v1', 'v1.platform.driver', 'm')).toBe('v1.platform.driver');
  });
  it('refuses another app_id with SpoofedSenderError (an InvalidPayloadError)', () => {
    const r = checkSender('v1.alice', 'v1', 'v1.bob', 'AMQP VIP sender');
    expect(r).toBeInstanceOf(SpoofedSenderError);
    expect(r).toBeInstanceOf(InvalidPayloadError);
    expect(r).toMatchObject({ userId: 'v1.alice', claimed: 'v1.bob', code: 'VIP_INVALID_PAYLOAD' });
    expect(checkSender('v1.alice', 'v1', 'v2.alice', 'm')).toBeInstanceOf(SpoofedSenderError);
  });
  it('proves nothing (undefined: keep the header) for absent, shared or other-instance users', () => {
    for (const u of [undefined, '', 'guest', 'v1', 'v1.', 'v2.alice', 'v10.alice', 42]) expect(checkSender(u, 'v1', 'v1.bob', 'm')).toBeUndefined();
    expect(agentUserOf('v1.x', 'v1')).toBe('v1.x');
    expect(agentUserOf('v1x.y', 'v1')).toBeUndefined();
  });
});

describe('publisherUserId: only a name known for sure', () => {
  it('password login: the URL user, for its own identity or a shared name; none for another identity\'s agent user', () => {
    expect(publisherUserId(link(), 'alice')).toBe('v1.alice');
    expect(publisherUserId(link(), 'bob')).toBeUndefined(); // would be refused by every receiver
    expect(publisherUserId(link({ url: 'amqp://guest:guest@127.0.0.1:5672' }), 'bob')).toBe('guest');
    expect(publisherUserId(link({ url: 'amqp://a%40b:pw@127.0.0.1:5672' }), 'bob')).toBe('a@b');
    expect(publisherUserId(link({ url: 'amqp://127.0.0.1:5672' }), 'bob')).toBeUndefined(); // amqplib's guest default: not certain
    expect(publisherUserId(link({ brokerUser: false }), 'alice')).toBeUndefined();
    expect(publisherUserId(link({ brokerUser: 'v1.alice' }), 'alice')).toBe('v1.alice');
  });
  it('EXTERNAL: only an explicit brokerUser', () => {
    expect(publisherUserId(link({ url: 'amqps://127.0.0.1:5671', tls: { external: true } }), 'alice')).toBeUndefined();
    expect(publisherUserId(link({ url: 'amqps://x@127.0.0.1:5671', tls: { external: true } }), 'alice')).toBeUndefined();
    expect(publisherUserId(link({ url: 'amqps://127.0.0.1:5671', tls: { external: true }, brokerUser: 'v1.alice' }), 'alice')).toBe('v1.alice');
  });
  it('a brokerUser that contradicts the URL of a password login is a ConfigError', () => {
    expect(() => link({ brokerUser: 'v1.bob' })).toThrow(/brokerUser: with a password login the broker user is the URL's \("v1.alice"\)/);
    expect(() => link({ url: 'amqp://127.0.0.1:5672', brokerUser: 'guest' })).toThrow(/brokerUser/);
    expect(() => link({ brokerUser: '' })).toThrow(/brokerUser/);
  });
});
