import { randomUUID } from 'node:crypto';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import {
  ClosedError, ConfigError, InvalidPayloadError, silentLogger, TransportError,
  type ConnectionStatus, type Logger,
} from '@vip/protocol';
import { checkInstanceName, identityText, routingKeyFor, VOLTTRON_EXCHANGE } from './amqp-mapping.js';
import { BrokerLink } from './broker-link.js';
import { declareVolttronTopology } from './broker-setup.js';
import { queueDeclareError, waitForDrain } from './channel-tools.js';
import { decodePubsubDelivery, encodePubsubPublish, subscriptionBindingKey, type PubSubDelivery, type PubSubPublish } from './pubsub-mapping.js';
import { parseRmqLinkOptions, type RmqLinkOptions, type RmqLinkOptionsInput } from './rmq-options.js';
import { StatusListeners } from './status-listeners.js';

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
export class RmqPubSub {
  readonly identity: string;
  readonly #o: RmqLinkOptions;
  readonly #declare: boolean;
  readonly #log: Logger;
  readonly #link: BrokerLink;
  readonly #status = new StatusListeners();
  readonly #subs = new Set<Subscription>();
  readonly #tags = new Map<Subscription, string>();
  readonly #stats: RmqPubSubStats = { published: 0, delivered: 0, otherBus: 0, invalid: 0, callbackErrors: 0, rejectedWhileDisconnected: 0 };
  #channel: Channel | undefined;
  #ids = 0;
  #opened?: Promise<void>;
  #closing = false;

  constructor(options: RmqPubSubOptions) {
    const { identity, declareTopology, logger, ...link } = options;
    this.#o = parseRmqLinkOptions(link, `RabbitMQ pubsub options of ${JSON.stringify(identity)}`);
    checkInstanceName(this.#o.instanceName);
    if (identity === '') throw new ConfigError('RMQ pubsub needs a non-empty identity');
    identityText(Buffer.from(identity, 'utf8'));
    this.identity = identity;
    this.#declare = declareTopology ?? false;
    this.#log = (logger ?? silentLogger).child({ identity, part: 'pubsub' });
    this.#link = new BrokerLink(this.#o, `vip-pubsub ${routingKeyFor(this.#o.instanceName, identity)}`, {
      setup: (model) => this.#setup(model),
      down: () => {
        this.#channel = undefined;
        this.#tags.clear();
      },
      status: (s) => this.#status.emit(s),
    }, this.#log);
  }

  onStatus(listener: (status: ConnectionStatus) => void): () => void {
    return this.#status.add(listener);
  }

  open(): Promise<void> {
    if (this.#closing) return Promise.reject(new ClosedError(`RMQ pubsub ${this.identity}`));
    return (this.#opened ??= this.#link.open());
  }

  /** Subscribe `callback` to `prefix` (one or several); declared now if connected, else on connect. */
  async subscribe(prefix: string | readonly string[], callback: RmqPubSubCallback, options: RmqSubscribeOptions = {}): Promise<void> {
    if (this.#closing) throw new ClosedError(`RMQ pubsub ${this.identity}`);
    const base = routingKeyFor(this.#o.instanceName, this.identity);
    const name = options.persistentQueue;
    if (name !== undefined && [...this.#subs].some((s) => s.queue === `${base}.pubsub.persistent.${name}`)) {
      throw new ConfigError(`persistent queue ${JSON.stringify(name)} is already subscribed by ${this.identity}; unsubscribe it first`);
    }
    const sub: Subscription = {
      queue: name === undefined ? `${base}.pubsub.${randomUUID()}` : `${base}.pubsub.persistent.${name}`,
      persistent: name !== undefined,
      bus: options.bus ?? '',
      allPlatforms: options.allPlatforms ?? false,
      prefixes: new Set(typeof prefix === 'string' ? [prefix] : prefix),
      callback,
    };
    this.#subs.add(sub);
    const ch = this.#channel;
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
      const ch = this.#channel;
      if (sub.prefixes.size === 0) {
        this.#subs.delete(sub);
        const tag = this.#tags.get(sub);
        this.#tags.delete(sub);
        if (ch && tag !== undefined) await ch.cancel(tag);
        if (ch) await ch.deleteQueue(sub.queue);
      } else if (ch) {
        for (const p of gone) await ch.unbindQueue(sub.queue, VOLTTRON_EXCHANGE, subscriptionBindingKey(this.#o.instanceName, p, sub.allPlatforms));
      }
    }
  }

  /** Publish on `topic`. Resolves 1 once written, as VOLTTRON's RMQ pubsub (subscriber count unknown). */
  async publish(p: PubSubPublish): Promise<number> {
    if (this.#closing) throw new ClosedError(`RMQ pubsub ${this.identity}`);
    const ch = this.#channel;
    if (!ch) {
      this.#stats.rejectedWhileDisconnected += 1;
      throw new TransportError(`RMQ pubsub ${this.identity} is not connected to the broker (reconnecting); publish on ${JSON.stringify(p.topic)} not sent`);
    }
    const a = encodePubsubPublish(this.#o.instanceName, this.identity, p, `${this.identity}.pubsub.${++this.#ids}`);
    let ok: boolean;
    try {
      ok = ch.publish(a.exchange, a.routingKey, a.content, a.properties);
    } catch (err) {
      throw new TransportError(`RMQ pubsub publish from ${this.identity} failed`, { cause: err });
    }
    this.#stats.published += 1;
    if (!ok) await waitForDrain(ch);
    return 1;
  }

  stats(): RmqPubSubStats {
    return { ...this.#stats };
  }

  close(): Promise<void> {
    this.#closing = true;
    return this.#link.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #setup(model: ChannelModel): Promise<void> {
    const ch = await model.createChannel();
    ch.on('error', (err: Error) => this.#log.debug('rmq.pubsub.channel-error', {}, err));
    ch.on('close', () => {
      if (this.#channel === ch) this.#link.restart('pubsub channel closed');
    });
    if (this.#declare) await declareVolttronTopology(ch, this.#o.vhost);
    await ch.prefetch(this.#o.prefetch);
    for (const sub of this.#subs) await this.#declareSub(ch, sub);
    this.#channel = ch;
  }

  async #declareSub(ch: Channel, sub: Subscription): Promise<void> {
    try {
      await ch.assertQueue(sub.queue, sub.persistent
        ? { durable: true, autoDelete: false, exclusive: false }
        : { durable: false, autoDelete: true, exclusive: true });
      for (const p of sub.prefixes) await ch.bindQueue(sub.queue, VOLTTRON_EXCHANGE, subscriptionBindingKey(this.#o.instanceName, p, sub.allPlatforms));
    } catch (err) {
      throw queueDeclareError(err, sub.queue, this.#o.vhost);
    }
    const { consumerTag } = await ch.consume(sub.queue, (msg) => this.#onDelivery(ch, sub, msg), { noAck: false });
    this.#tags.set(sub, consumerTag);
  }

  #onDelivery(ch: Channel, sub: Subscription, msg: ConsumeMessage | null): void {
    if (msg === null) {
      if (this.#subs.has(sub)) this.#link.restart('pubsub consumer cancelled');
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
        this.#log.warn('rmq.pubsub.callback-failed', {}, err);
      }
    }
    try {
      ch.ack(msg);
    } catch (err) {
      this.#log.debug('rmq.ack.failed', {}, err);
    }
  }
}
