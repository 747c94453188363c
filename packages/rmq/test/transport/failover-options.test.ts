import { describe, expect, it } from 'vitest';
import {
  brokerUrls,
  connectTarget,
  defaultPersistentQueueType,
  describeTarget,
  parseRmqLinkOptions,
} from '../../src/transport/rmq-options.js';

const link = (extra: Record<string, unknown> = {}) =>
  parseRmqLinkOptions({ url: 'amqp://u:p@h1:5672', vhost: 'v', instanceName: 'i', ...extra });

describe('failover URLs', () => {
  it("lists url first, then the failover nodes, each logging in with url's credentials", () => {
    const o = link({ failoverUrls: ['amqp://h2:5673', 'amqp://x:y@h3:5674'] });
    expect(brokerUrls(o)).toEqual(['amqp://u:p@h1:5672', 'amqp://h2:5673', 'amqp://x:y@h3:5674']);
    expect(new URL(connectTarget(o, 'n', 1).url)).toMatchObject({
      username: 'u',
      password: 'p',
      hostname: 'h2',
      port: '5673',
      pathname: '/v',
    });
    expect(new URL(connectTarget(o, 'n', 2).url)).toMatchObject({ username: 'u', password: 'p', hostname: 'h3' });
    expect(describeTarget(o, 3)).toBe('amqp://h1:5672/v'); // round robin
  });

  it('persistent subscriptions are quorum queues on a cluster unless said otherwise', () => {
    expect(defaultPersistentQueueType(link())).toBe('classic');
    expect(defaultPersistentQueueType(link({ failoverUrls: ['amqp://h2:5672'] }))).toBe('quorum');
    expect(defaultPersistentQueueType(link({ failoverUrls: ['amqp://h2:5672'], persistentQueueType: 'classic' }))).toBe('classic');
  });

  it('refuses a failover URL with a vhost path', () => {
    expect(() => link({ failoverUrls: ['amqp://h2:5672/v'] })).toThrow(/failoverUrls/);
  });
});
