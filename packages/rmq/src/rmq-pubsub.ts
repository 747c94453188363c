import { randomUUID } from 'node:crypto';
import type { Channel, ConsumeMessage } from 'amqplib';
import { ConfigError, InvalidPayloadError, type Logger } from '@vip/protocol';
import { identityText, routingKeyFor, VOLTTRON_EXCHANGE } from './amqp-mapping.js';
import { BrokerClient } from './broker-client.js';
import { queueDeclareError } from './channel-tools.js';
import { decodePubsubDelivery, encodePubsubPublish, subscriptionBindingKey, type PubSubDelivery, type PubSubPublish } from './pubsub-mapping.js';
import { parseRmqLinkOptions, type RmqLinkOptionsInput } from './rmq-options.js';

export interface RmqPubSubOptions extends RmqLinkOptionsInput {
  readonly identity: string;
  /** Declare the `volttron` exchanges first (needs configure rights); off by default. */
  readonly declareTopology?: boolean;
  readonly logger?: Logger;
}

export interface RmqSubscribeOptions {
  /** Deliver only messages published on this bus (default ''). */
  readonly bus?: string;
  /** Match the topic on every instance (`__pubsub__.*.<prefix>.#`), e.g. through federation. */
  readonly allPlatforms?: boolean;
  /**
   * Keep messages while this agent is away: the queue `<instance>.<identity>.pubsub.persistent.<name>`
   * is durable and survives disconnects; the next subscribe with the same name gets the backlog.
   */
  readonly persistentQueue?: string;
}

export type RmqPubSubCallback = (delivery: PubSubDelivery) => void;

export interface RmqPubSubStats {
  published: number;
  delivered: number;
  /** Deliveries on another bus than the subscription's: acked, not passed on. */
  otherBus: number;
  invalid: number;
  callbackErrors: number;
  rejectedWhileDisconnected: number;
}

interface Subscription {
  readonly queue: string;
  readonly persistent: boolean;
  readonly bus: string;
  readonly allPlatforms: boolean;
  readonly prefixes: Set<string>;
  readonly callback: RmqPubSubCallback;
}

/**
 * VOLTTRON's RabbitMQ pubsub (PROTOCOL.md 7.6) for an agent: publishes go straight to the
 * `volttron` exchange with `__pubsub__.<instance>.<topic>.#`, each subscription has its own queue
 * bound per prefix (per-segment matching), the router is not involved. Interoperates with Python
 * agents on the same RMQ instance. Own broker connection; after a reconnect every subscription's
 * queue, bindings and consumer are declared again (VOLTTRON's synchronize), persistent queues
 * deliver what arrived meanwhile. Sends while disconnected reject with TransportError.
 */
export class RmqPubSub extends BrokerClient {
  readonly identity: string;
  readonly #base: string;
  readonly #subs = new Set<Subscription>();
  readonly #tags = new Map<Subscription, string>();
  readonly #stats = { published: 0, delivered: 0, otherBus: 0, invalid: 0, callbackErrors: 0 };
  #ids = 0;

  constructor(options: RmqPubSubOptions) {
    const { identity, declareTopology, logger, ...link } = options;
    const o = parseRmqLinkOptions(link, `RabbitMQ pubsub options of ${JSON.stringify(identity)}`);
    if (identity === '') throw new ConfigError('RMQ pubsub needs a non-empty identity');
    identityText(Buffer.from(identity, 'utf8'));
    const base = routingKeyFor(o.instanceName, identity);
    super(o, `RMQ pubsub ${identity}`, `vip-pubsub ${base}`, declareTopology ?? false, logger?.child({ identity, part: 'pubsub' }));
    this.identity = identity;
    this.#base = base;
  }

  /** Subscribe `callback` to `prefix` (one or several); declared now if connected, else on connect. */
  async subscribe(prefix: string | readonly string[], callback: RmqPubSubCallback, options: RmqSubscribeOptions = {}): Promise<void> {
    this.checkOpen();
    const name = options.persistentQueue;
    const queue = name === undefined ? `${this.#base}.pubsub.${randomUUID()}` : `${this.#base}.pubsub.persistent.${name}`;
    if ([...this.#subs].some((s) => s.queue === queue)) {
      throw new ConfigError(`persistent queue ${JSON.stringify(name)} is already subscribed by ${this.identity}; unsubscribe it first`);
    }
    const sub: Subscription = {
      queue,
      persistent: name !== undefined,
      bus: options.bus ?? '',
      allPlatforms: options.allPlatforms ?? false,
      prefixes: new Set(typeof prefix === 'string' ? [prefix] : prefix),
      callback,
    };
    this.#subs.add(sub);
    const ch = this.channel;
    if (ch) await this.#declareSub(ch, sub);
  }

  /**
   * Remove `prefix` (all when null/undefined) from subscriptions of `callback` (all when omitted)
   * on `bus`. A subscription left without prefixes loses its queue, persistent ones included.
   */
  async unsubscribe(prefix?: string | readonly string[] | null, callback?: RmqPubSubCallback | null, options: { bus?: string } = {}): Promise<void> {
    const drop = prefix === undefined || prefix === null ? undefined : new Set(typeof prefix === 'string' ? [prefix] : prefix);
    const bus = options.bus ?? '';
    for (const sub of [...this.#subs]) {
      if (sub.bus !== bus || (callback && sub.callback !== callback)) continue;
      const gone = [...sub.prefixes].filter((p) => !drop || drop.has(p));
      if (gone.length === 0) continue;
      for (const p of gone) sub.prefixes.delete(p);
      const ch = this.channel;
      if (sub.prefixes.size === 0) {
        this.#subs.delete(sub);
        const tag = this.#tags.get(sub);
        this.#tags.delete(sub);
        if (ch && tag !== undefined) await ch.cancel(tag);
        if (ch) await ch.deleteQueue(sub.queue);
      } else if (ch) {
        for (const p of gone) await ch.unbindQueue(sub.queue, VOLTTRON_EXCHANGE, subscriptionBindingKey(this.options.instanceName, p, sub.allPlatforms));
      }
    }
  }

  /** Publish on `topic`. Resolves 1 once written, as VOLTTRON's RMQ pubsub (subscriber count unknown). */
  async publish(p: PubSubPublish): Promise<number> {
    await this.publishAmqp(encodePubsubPublish(this.options.instanceName, this.identity, p, `${this.identity}.pubsub.${++this.#ids}`), `publish on ${JSON.stringify(p.topic)}`);
    this.#stats.published += 1;
    return 1;
  }

  stats(): RmqPubSubStats {
    return { ...this.#stats, rejectedWhileDisconnected: this.rejectedWhileDisconnected };
  }

  protected async declare(ch: Channel): Promise<void> {
    for (const sub of this.#subs) await this.#declareSub(ch, sub);
  }

  protected override sessionDown(): void {
    this.#tags.clear();
  }

  async #declareSub(ch: Channel, sub: Subscription): Promise<void> {
    try {
      await ch.assertQueue(sub.queue, sub.persistent
        ? { durable: true, autoDelete: false, exclusive: false }
        : { durable: false, autoDelete: true, exclusive: true });
      for (const p of sub.prefixes) await ch.bindQueue(sub.queue, VOLTTRON_EXCHANGE, subscriptionBindingKey(this.options.instanceName, p, sub.allPlatforms));
    } catch (err) {
      throw queueDeclareError(err, sub.queue, this.options.vhost);
    }
    const { consumerTag } = await ch.consume(sub.queue, (msg) => this.#onDelivery(ch, sub, msg), { noAck: false });
    this.#tags.set(sub, consumerTag);
  }

  #onDelivery(ch: Channel, sub: Subscription, msg: ConsumeMessage | null): void {
    if (msg === null) {
      if (this.#subs.has(sub)) this.restart('pubsub consumer cancelled', ch);
      return;
    }
    const d = decodePubsubDelivery(msg.fields.routingKey, msg.content);
    if (d instanceof InvalidPayloadError) {
      this.#stats.invalid += 1;
    } else if (d.bus !== sub.bus) {
      this.#stats.otherBus += 1;
    } else {
      this.#stats.delivered += 1;
      try {
        sub.callback(d);
      } catch (err) {
        this.#stats.callbackErrors += 1;
        this.log.warn('rmq.pubsub.callback-failed', {}, err);
      }
    }
    this.ack(ch, msg);
  }
}
