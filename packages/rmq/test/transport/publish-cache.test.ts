import { describe, expect, it } from 'vitest';
import { ProtocolError, type VipMessage } from '@vip/protocol';
import { vipToAmqp } from '../../src/transport/amqp-mapping.js';
import { PublishCache } from '../../src/transport/publish-cache.js';

const b = (s: string) => Buffer.from(s, 'latin1');
const ctx = { instance: 'v1', identity: 'alice' };
const msg = (o: Partial<VipMessage> = {}): VipMessage => ({
  peer: b('bob'),
  user: b(''),
  id: b('m1'),
  subsystem: b('RPC'),
  args: [b('{"a": 1}')],
  ...o,
});

describe('PublishCache', () => {
  it('gives what vipToAmqp gives (default user filled in), on the first and on later messages', () => {
    const cache = new PublishCache(ctx, b('v1.alice'));
    const cases = [
      msg(),
      msg({ id: b('m2'), args: [b('x'), b('\xff')] }),
      msg({ user: b('u') }),
      msg({ peer: b(''), subsystem: b('hello') }),
      msg({ id: b('\x00\xe9') }),
    ];
    for (const m of [...cases, ...cases]) {
      expect(cache.toAmqp(m)).toEqual(vipToAmqp(m, ctx, { defaultUser: true }));
    }
  });
  it('keeps shapes apart whose peer/user bytes would concatenate alike', () => {
    const cache = new PublishCache(ctx, b('v1.alice'));
    cache.toAmqp(msg({ peer: b('ab'), user: b('c') }));
    expect(cache.toAmqp(msg({ peer: b('a'), user: b('bc') })).routingKey).toBe('v1.a');
  });
  it('still refuses what AMQP cannot carry, cached shape or not', () => {
    const cache = new PublishCache(ctx, b('v1.alice'));
    expect(() => cache.toAmqp(msg({ peer: b('a*') }))).toThrow(ProtocolError);
    expect(() => cache.toAmqp(msg({ peer: b('a*') }))).toThrow(ProtocolError);
    cache.toAmqp(msg());
    expect(() => cache.toAmqp(msg({ id: Buffer.alloc(200, 0xe9) }))).toThrow(/255/);
    expect(() => cache.toAmqp(msg({ id: Buffer.alloc(256, 0x41) }))).toThrow(/255/);
    expect(cache.toAmqp(msg({ id: Buffer.alloc(255, 0x41) })).properties.messageId).toHaveLength(255);
  });
});
