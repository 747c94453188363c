import { describe, expect, it } from 'vitest';
import { isVipError } from '@vip/protocol';
import { TopicWriteRefusedError, topicWriteRefusal } from '../../src/transport/publish-refusal.js';

/** An amqplib channel error as it arrives when the server closes a channel (code = reply code). */
function channelError(code: number, text: string): Error {
  return Object.assign(new Error(`Channel closed by server: ${code} (ACCESS-REFUSED) with message "${text}"`), {
    code,
    classId: 60,
    methodId: 40,
  });
}

describe('topicWriteRefusal', () => {
  it("reads RabbitMQ's refusal of a topic write", () => {
    const err = channelError(
      403,
      "ACCESS_REFUSED - write access to topic '__pubsub__.v1.foo.1.#' in exchange 'volttron' in vhost 'vh' refused for user 'v1.pub'",
    );
    expect(topicWriteRefusal(err)).toEqual({ routingKey: '__pubsub__.v1.foo.1.#', exchange: 'volttron', vhost: 'vh', user: 'v1.pub' });
  });
  it('reads the text of RabbitMQ 3.10 ("access to topic")', () => {
    const err = channelError(
      403,
      "ACCESS_REFUSED - access to topic '__pubsub__.v1.foo.1.#' in exchange 'volttron' in vhost 'vh' refused for user 'v1.pub'",
    );
    expect(topicWriteRefusal(err)).toMatchObject({ routingKey: '__pubsub__.v1.foo.1.#', user: 'v1.pub' });
  });
  it('ignores other channel errors', () => {
    expect(topicWriteRefusal(channelError(403, "ACCESS_REFUSED - access to queue 'q' in vhost 'vh' refused for user 'u'"))).toBeUndefined();
    expect(
      topicWriteRefusal(channelError(404, "NOT_FOUND - write access to topic 'k' in exchange 'x' in vhost 'v' refused for user 'u'")),
    ).toBeUndefined();
    expect(topicWriteRefusal(new Error('channel closed'))).toBeUndefined();
    expect(topicWriteRefusal('403')).toBeUndefined();
  });
  it('TopicWriteRefusedError has the code of a refused protected-topic publish', () => {
    const e = new TopicWriteRefusedError('publish on "foo/1"', { routingKey: 'k', exchange: 'volttron', vhost: 'vh', user: 'u' });
    expect(isVipError(e, 'VIP_UNAUTHORIZED')).toBe(true);
    expect(e.message).toContain('RabbitMQ refused publish on "foo/1"');
    expect(e.message).toContain('protected topic?');
  });
});
