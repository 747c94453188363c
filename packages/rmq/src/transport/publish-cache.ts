import { ProtocolError, type VipMessage } from '@vip/protocol';
import { encodeArgs, JSON_CONTENT_TYPE, vipToAmqp, type AmqpPublish, type MappingContext } from './amqp-mapping.js';

/** Distinct (peer, user, subsystem) shapes kept; past that the cache starts over (bounded memory). */
const MAX_ENTRIES = 1_024;
const MAX_SHORTSTR = 255;

type Shape = Pick<AmqpPublish, 'exchange' | 'routingKey'> & {
  readonly appId: string;
  readonly type: string;
  readonly headers: AmqpPublish['properties']['headers'];
  readonly userId: string | undefined;
};

/**
 * vipToAmqp for one sender, with what is the same for every message to a peer (routing key,
 * `app_id`, `type`, the headers object) built and checked once per (peer, user, subsystem) and
 * reused: per message only the body and `message_id` are new. The wire format is vipToAmqp's
 * (docs/protocol.md 7.3); the first message of a shape goes through it, checks and errors included.
 * An empty `user` becomes `defaultUser` (the agent's `<instance>.<identity>`).
 */
export class PublishCache {
  readonly #ctx: MappingContext;
  readonly #defaultUser: Buffer;
  readonly #userId: string | undefined;
  readonly #shapes = new Map<string, Shape>();

  /** `userId`: the broker user set as `user_id` on every message (publisherUserId), or none. */
  constructor(ctx: MappingContext, defaultUser: Buffer, userId?: string) {
    this.#ctx = ctx;
    this.#defaultUser = defaultUser;
    this.#userId = userId;
  }

  /**
   * `content`: the body when it is not `encodeArgs(message.args)` (the proxy inbox's frame list,
   * proxy-frames.ts), so that the args are not encoded for nothing.
   */
  toAmqp(message: VipMessage, content?: Buffer): AmqpPublish {
    const { peer, user, subsystem, id } = message;
    const key = `${peer.length}.${user.length}.${peer.toString('latin1')}${user.toString('latin1')}${subsystem.toString('latin1')}`;
    let shape = this.#shapes.get(key);
    if (shape === undefined) {
      const full = vipToAmqp(
        user.length === 0 ? { ...message, user: this.#defaultUser } : message,
        this.#ctx,
        this.#userId === undefined ? {} : { userId: this.#userId },
      );
      const { appId, type, headers, userId } = full.properties;
      if (this.#shapes.size >= MAX_ENTRIES) this.#shapes.clear();
      this.#shapes.set(key, { exchange: full.exchange, routingKey: full.routingKey, appId, type, headers, userId });
      return content === undefined ? full : { ...full, content };
    }
    // message_id is the Latin-1 text of the id, encoded UTF-8 on the wire: up to 2 bytes per id byte
    const messageId = id.toString('latin1');
    if (id.length > MAX_SHORTSTR / 2 && Buffer.byteLength(messageId, 'utf8') > MAX_SHORTSTR) {
      throw new ProtocolError('message id is longer than an AMQP short string (255 bytes)');
    }
    return {
      exchange: shape.exchange,
      routingKey: shape.routingKey,
      content: content ?? encodeArgs(message.args),
      properties: {
        appId: shape.appId,
        messageId,
        type: shape.type,
        contentType: JSON_CONTENT_TYPE,
        headers: shape.headers,
        ...(shape.userId === undefined ? {} : { userId: shape.userId }),
      },
    };
  }
}
