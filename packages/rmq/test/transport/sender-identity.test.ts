import { describe, expect, it } from 'vitest';
import { InvalidPayloadError } from '@vip/protocol';
import { parseRmqLinkOptions } from '../../src/transport/rmq-options.js';
import { publisherUserId, senderPolicyOf } from '../../src/transport/sender-identity.js';
import {
  agentUserOf,
  isPlatformIdentity,
  judgeSender,
  SpoofedSenderError,
  UnprovenPlatformIdentityError,
  type SenderPolicy,
} from '../../src/transport/sender-trust.js';

const link = (o: Record<string, unknown> = {}) =>
  parseRmqLinkOptions({ url: 'amqp://v1.alice:pw@127.0.0.1:5672', instanceName: 'v1', ...o });
const optional: SenderPolicy = { instance: 'v1', proof: 'optional', legacyPeers: new Set() };
const required: SenderPolicy = { instance: 'v1', proof: 'required', legacyPeers: new Set(['py.agent']) };

describe('judgeSender: a user_id <instance>.<x> proves the sender x', () => {
  it('accepts app_id equal to the agent user and hands on that user', () => {
    for (const policy of [optional, required]) {
      expect(judgeSender('v1.alice', 'v1.alice', policy, 'm')).toEqual({ trust: 'proven', user: 'v1.alice' });
      expect(judgeSender('v1.platform.driver', 'v1.platform.driver', policy, 'm')).toEqual({ trust: 'proven', user: 'v1.platform.driver' });
    }
  });
  it('refuses another app_id with SpoofedSenderError (an InvalidPayloadError)', () => {
    const r = judgeSender('v1.alice', 'v1.bob', optional, 'AMQP VIP sender');
    expect(r).toBeInstanceOf(SpoofedSenderError);
    expect(r).toBeInstanceOf(InvalidPayloadError);
    expect(r).toMatchObject({ userId: 'v1.alice', claimed: 'v1.bob', code: 'VIP_INVALID_PAYLOAD' });
    expect(judgeSender('v1.alice', 'v2.alice', optional, 'm')).toBeInstanceOf(SpoofedSenderError);
  });
  it('proves nothing for absent, shared or other-instance users: the header where proof is optional', () => {
    for (const u of [undefined, '', 'guest', 'v1', 'v1.', 'v2.alice', 'v10.alice', 42])
      expect(judgeSender(u, 'v1.bob', optional, 'm')).toEqual({ trust: 'asserted' });
    expect(agentUserOf('v1.x', 'v1')).toBe('v1.x');
    expect(agentUserOf('v1x.y', 'v1')).toBeUndefined();
  });
  it("another instance's sender: proven only by a user_id naming exactly it (a link's login on this broker), else spoofed", () => {
    for (const policy of [optional, required]) {
      expect(judgeSender('v2.alice', 'v2.alice', policy, 'm')).toEqual({ trust: 'proven', user: 'v2.alice' });
      expect(judgeSender('v2.alice', 'v2.bob', policy, 'm')).toBeInstanceOf(SpoofedSenderError);
    }
    // a shared login (guest) or another instance's user proves nothing of it: as any unproven sender
    for (const u of [undefined, 'guest', 'v3.bob']) expect(judgeSender(u, 'v2.bob', optional, 'm')).toEqual({ trust: 'asserted' });
    expect(judgeSender('guest', 'v2.bob', required, 'm')).toEqual({ trust: 'anonymous', user: '' });
  });
  it("where proof is required: no user for the unproven, a legacy peer's own user, another instance anonymous too", () => {
    for (const u of [undefined, 'guest', 'v2.bob'])
      expect(judgeSender(u, 'v1.bob', required, 'm')).toEqual({ trust: 'anonymous', user: '' });
    expect(judgeSender(undefined, 'v1.py.agent', required, 'm')).toEqual({ trust: 'legacy', user: 'v1.py.agent' });
    expect(judgeSender(undefined, 'v2.py.agent', required, 'm')).toEqual({ trust: 'anonymous', user: '' });
    expect(judgeSender(undefined, 'v1.anyone', { ...required, legacyPeers: '*' }, 'm')).toEqual({ trust: 'legacy', user: 'v1.anyone' });
  });
  it('platform identities: only the platform user v1.router proves them, and it proves nothing else', () => {
    expect(judgeSender('v1.router', 'v1.router', required, 'm')).toEqual({ trust: 'proven', user: 'v1.router' });
    for (const id of ['control', 'platform.auth', 'config.store', 'control.connection', 'control.connection.ab12']) {
      expect(isPlatformIdentity(id)).toBe(true);
      expect(judgeSender('v1.router', `v1.${id}`, required, 'm')).toEqual({ trust: 'proven', user: `v1.${id}` });
      expect(judgeSender(`v1.${id}`, `v1.${id}`, required, 'm')).toBeInstanceOf(SpoofedSenderError); // an agent user of that name
      expect(judgeSender(undefined, `v1.${id}`, required, 'm')).toBeInstanceOf(SpoofedSenderError);
      expect(judgeSender(undefined, `v1.${id}`, { ...required, legacyPeers: '*' }, 'm')).toBeInstanceOf(SpoofedSenderError);
      expect(judgeSender(undefined, `v1.${id}`, optional, 'm')).toEqual({ trust: 'asserted' }); // shared login: VOLTTRON's way
    }
    expect(judgeSender('guest', 'v1.router', required, 'm')).toBeInstanceOf(UnprovenPlatformIdentityError); // e.g. a shared-login platform
    expect(judgeSender('v1.control', 'v1.control', required, 'm')).not.toBeInstanceOf(UnprovenPlatformIdentityError);
    expect(isPlatformIdentity('platform.driver')).toBe(false);
    expect(judgeSender('v1.router', 'v1.alice', required, 'm')).toBeInstanceOf(SpoofedSenderError);
    expect(judgeSender('v1.router', 'v2.control', required, 'm')).toBeInstanceOf(SpoofedSenderError);
  });
  it("the proxy router's user v1.zmq.proxy.router vouches for ZeroMQ peers of its instance, never for a platform identity", () => {
    for (const policy of [optional, required]) {
      expect(judgeSender('v1.zmq.proxy.router', 'v1.zmq.proxy.router', policy, 'm')).toEqual({
        trust: 'proven',
        user: 'v1.zmq.proxy.router',
      });
      expect(judgeSender('v1.zmq.proxy.router', 'v1.zmq.agent', policy, 'm')).toEqual({ trust: 'proxied' });
      for (const id of ['router', 'control', 'platform.auth', 'control.connection.1f']) {
        expect(judgeSender('v1.zmq.proxy.router', `v1.${id}`, policy, 'm')).toBeInstanceOf(SpoofedSenderError);
      }
      expect(judgeSender('v1.zmq.proxy.router', 'v2.zmq.agent', policy, 'm')).toBeInstanceOf(SpoofedSenderError);
    }
    // the proxy's identity is the platform's: an agent user of that name or an unproven claim is refused
    expect(isPlatformIdentity('zmq.proxy.router')).toBe(true);
    expect(judgeSender('v1.alice', 'v1.zmq.proxy.router', required, 'm')).toBeInstanceOf(SpoofedSenderError);
    expect(judgeSender(undefined, 'v1.zmq.proxy.router', required, 'm')).toBeInstanceOf(SpoofedSenderError);
    expect(judgeSender('v1.router', 'v1.zmq.proxy.router', required, 'm')).toEqual({ trust: 'proven', user: 'v1.zmq.proxy.router' });
  });
});

describe('publisherUserId: only a name known for sure', () => {
  it("password login: the URL user, for its own identity or a shared name; none for another identity's agent user", () => {
    expect(publisherUserId(link(), 'alice')).toBe('v1.alice');
    expect(publisherUserId(link(), 'bob')).toBeUndefined(); // would be refused by every receiver
    expect(publisherUserId(link({ url: 'amqp://guest:guest@127.0.0.1:5672' }), 'bob')).toBe('guest');
    expect(publisherUserId(link({ url: 'amqp://a%40b:pw@127.0.0.1:5672' }), 'bob')).toBe('a@b');
    expect(publisherUserId(link({ url: 'amqp://127.0.0.1:5672' }), 'bob')).toBeUndefined(); // amqplib's guest default: not certain
    expect(publisherUserId(link({ brokerUser: false }), 'alice')).toBeUndefined();
    expect(publisherUserId(link({ brokerUser: 'v1.alice' }), 'alice')).toBe('v1.alice');
  });
  it("the platform user v1.router for the platform's identities only", () => {
    const platform = link({ url: 'amqp://v1.router:pw@127.0.0.1:5672' });
    for (const id of ['router', 'control', 'platform.auth', 'control.connection.1f'])
      expect(publisherUserId(platform, id)).toBe('v1.router');
    expect(publisherUserId(platform, 'alice')).toBeUndefined();
  });
  it("the proxy router's user for itself and the ZeroMQ peers it hosts, not for the platform's identities", () => {
    const proxy = link({ url: 'amqp://v1.zmq.proxy.router:pw@127.0.0.1:5672' });
    for (const id of ['zmq.proxy.router', 'zmq.agent', 'proxy.router.zmq.outbound.subsystem'])
      expect(publisherUserId(proxy, id)).toBe('v1.zmq.proxy.router');
    for (const id of ['router', 'control', 'platform.auth']) expect(publisherUserId(proxy, id)).toBeUndefined();
  });
  it('EXTERNAL: only an explicit brokerUser', () => {
    expect(publisherUserId(link({ url: 'amqps://127.0.0.1:5671', tls: { external: true } }), 'alice')).toBeUndefined();
    expect(publisherUserId(link({ url: 'amqps://x@127.0.0.1:5671', tls: { external: true } }), 'alice')).toBeUndefined();
    expect(publisherUserId(link({ url: 'amqps://127.0.0.1:5671', tls: { external: true }, brokerUser: 'v1.alice' }), 'alice')).toBe(
      'v1.alice',
    );
  });
  it('a brokerUser that contradicts the URL of a password login is a ConfigError', () => {
    expect(() => link({ brokerUser: 'v1.bob' })).toThrow(/brokerUser: with a password login the broker user is the URL's \("v1.alice"\)/);
    expect(() => link({ url: 'amqp://127.0.0.1:5672', brokerUser: 'guest' })).toThrow(/brokerUser/);
    expect(() => link({ brokerUser: '' })).toThrow(/brokerUser/);
  });
});

describe('senderPolicyOf: proof required when the client logs in as a user of its instance', () => {
  it('per-agent and platform users require proof; shared logins do not; options override', () => {
    expect(senderPolicyOf(link(), 'alice')).toMatchObject({ instance: 'v1', proof: 'required' });
    expect(senderPolicyOf(link({ url: 'amqp://v1.router:pw@127.0.0.1:5672' }), 'control').proof).toBe('required');
    expect(senderPolicyOf(link({ url: 'amqp://guest:guest@127.0.0.1:5672' }), 'alice').proof).toBe('optional');
    expect(senderPolicyOf(link({ url: 'amqp://127.0.0.1:5672' }), 'alice').proof).toBe('optional');
    expect(senderPolicyOf(link({ senderProof: 'optional' }), 'alice').proof).toBe('optional');
    expect(senderPolicyOf(link({ url: 'amqp://guest:guest@127.0.0.1:5672', senderProof: 'required' }), 'alice').proof).toBe('required');
    expect(senderPolicyOf(link({ legacyPeers: ['py'] }), 'alice').legacyPeers).toEqual(new Set(['py']));
    expect(senderPolicyOf(link({ legacyPeers: '*' }), 'alice').legacyPeers).toBe('*');
    expect(() => link({ legacyPeers: ['a#'] })).toThrow(/legacyPeers/);
    expect(() => link({ senderProof: 'maybe' })).toThrow(/senderProof/);
  });
});
