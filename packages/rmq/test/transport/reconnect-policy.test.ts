import { describe, expect, it } from 'vitest';
import { reconnectDelay, ReconnectPolicySchema } from '../../src/transport/reconnect-policy.js';
import { connectTarget, parseRmqLinkOptions } from '../../src/transport/rmq-options.js';
import { ConfigError } from '@vip/protocol';

describe('reconnect back-off', () => {
  const p = ReconnectPolicySchema.parse({});
  it('starts at 0.5 s, doubles, caps at 4 s', () => {
    expect([1, 2, 3, 4, 5, 9].map((n) => reconnectDelay(p, n, () => 0.5))).toEqual([500, 1000, 2000, 4000, 4000, 4000]);
  });
  it('jitters within +/-20 % and never above the cap', () => {
    expect(reconnectDelay(p, 1, () => 0)).toBe(400);
    expect(reconnectDelay(p, 1, () => 0.999)).toBe(600);
    expect(reconnectDelay(p, 8, () => 0.999)).toBe(4000);
  });
});

describe('link options', () => {
  it('puts the vhost in the URL, turns Nagle off, and validates', () => {
    const o = parseRmqLinkOptions({ url: 'amqp://guest:guest@127.0.0.1:5672', vhost: 'my vhost', instanceName: 'v1' });
    const t = connectTarget(o, 'n');
    expect(t.url).toBe('amqp://guest:guest@127.0.0.1:5672/my%20vhost?heartbeat=20');
    expect(t.socketOptions.noDelay).toBe(true);
    expect(() => parseRmqLinkOptions({ url: 'http://x', instanceName: 'a.b' })).toThrow(ConfigError);
    expect(() => parseRmqLinkOptions({ url: 'http://x', instanceName: 'a.b' })).toThrow(/url.*instanceName/);
  });
  it('plumbs TLS and EXTERNAL auth', () => {
    const o = parseRmqLinkOptions({
      url: 'amqps://u:p@h:5671',
      instanceName: 'v1',
      tls: { ca: 'CA', cert: 'C', key: 'K', external: true },
    });
    const t = connectTarget(o, 'n');
    expect(t.url.startsWith('amqps://h:5671/volttron')).toBe(true);
    expect(t.socketOptions).toMatchObject({ ca: 'CA', cert: 'C', key: 'K', rejectUnauthorized: true });
    expect((t.socketOptions.credentials as { mechanism: string }).mechanism).toBe('EXTERNAL');
  });
});
