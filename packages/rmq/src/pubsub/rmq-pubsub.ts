import { randomUUID } from 'node:crypto';
import type { Channel, ConsumeMessage } from 'amqplib';
import { ConfigError, InvalidPayloadError, type Logger } from '@vip/protocol';
import { identityText, routingKeyFor, VOLTTRON_EXCHANGE, type AmqpPublish } from '../transport/amqp-mapping.js';
import { BindingSnapshots } from './binding-snapshots.js';
import { BrokerClient } from '../transport/broker-client.js';
import { queueDeclareError } from '../transport/channel-tools.js';
import {
  BindingTable,
  listSubscriptions,
  prefixMatches,
  pubsubBindingArguments,
  pubsubBindingKey,
  type PrefixMatch,
} from './pubsub-bindings.js';
import { decodePubsubDelivery, encodePubsubPublish, publishRoutingKey, type PubSubDelivery, type PubSubPublish } from './pubsub-mapping.js';
import { ManagementReads, type ManagementOptions } from '../transport/management-reads.js';
import { RmqSetupError } from '../transport/rmq-errors.js';
import { defaultPersistentQueueType, parseRmqLinkOptions, type RmqLinkOptionsInput } from '../transport/rmq-options.js';
import { mayRepeat, RecentIds } from './recent-ids.js';

/** Message ids a persistent subscription remembers to drop redeliveries (~100 bytes each: ~1 MB). */
const RECENT_IDS = 10_000;
import { publisherUserId, senderPolicyOf } from '../transport/sender-identity.js';
import { SpoofedSenderError, type SenderPolicy } from '../transport/sender-trust.js';

export interface RmqPubSubOptions extends RmqLinkOptionsInput {
  readonly identity: string;
  /**
   * The `user` header of this client's publishes (default the identity, as VOLTTRON). The proxy
   * router writes its hosted ZeroMQ peer's proven user `<instance>.<user>`: receivers believe it
   * from the proxy's broker user only (PubSubDelivery `user`).
   */
  readonly user?: string;
  /** Declare the `volttron` exchanges first (needs configure rights); off by default. */
  readonly declareTopology?: boolean;
  /**
   * `segment` (default, VOLTTRON's RMQ pubsub): `devices/camp` does not match `devices/campus/x`.
   * `character` (ZMQ's `startsWith`): binds the prefix's complete segments and filters the rest
   * locally, so more messages reach the queue than the callback sees.
   */
  readonly prefixMatch?: PrefixMatch;
  /**
   * Management API: makes `publish` resolve to the true subscriber count and enables `list`.
   * Without it `publish` resolves 1 (VOLTTRON's constant) and `list` rejects.
   */
  readonly management?: ManagementOptions;
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
  /**
   * A persistent queue's type: `quorum` (replicated across a cluster's nodes) or `classic`; default
   * the link's `persistentQueueType` (quorum on a cluster). A queue already declared with the other
   * type fails the subscribe (RabbitMQ's PRECONDITION_FAILED): delete it or keep its type.
   */
  readonly queueType?: 'classic' | 'quorum';
}

export type RmqPubSubCallback = (delivery: PubSubDelivery) => void;

export interface RmqPubSubStats {
  published: number;
  delivered: number;
  /** Deliveries on another bus than the subscription's: acked, not passed on. */
  otherBus: number;
  /** Deliveries matching none of the subscription's prefixes (character filter, stale binding). */
  unmatched: number;
  invalid: number;
  /** Of `invalid`: refused senders (SpoofedSenderError: user_id contradicting app_id or body sender, a platform identity without proof). */
  spoofed: number;
  /** Management requests made to count subscribers. */
  countRequests: number;
  /** Publishes resolved with VOLTTRON's constant 1 because the subscriber count could not be read (management refused or unreachable). */
  countsUnknown: number;
  callbackErrors: number;
  /**
   * Redeliveries of a message this subscription had already passed on (its ack was lost with a
   * connection or a node): acked, not passed on again. Persistent subscriptions only.
   */
  duplicates: number;
  rejectedWhileDisconnected: number;
  /** Publishes rejected because the broker nacked them or the connection was lost before the confirm. */
  unconfirmed: number;
  /** Publishes RabbitMQ refused by topic permissions (TopicWriteRefusedError: a protected topic). */
  refused: number;
  /** Confirm channels opened again on the same connection after a refusal closed one. */
  confirmReopens: number;
  /**
   * Confirm channels replaced by a fresh one after the broker nacked a publish: RabbitMQ keeps
   * nacking a channel whose first publish to a quorum queue found a dead node named as its leader.
   */
  confirmRenewals: number;
}

interface Subscription {
  readonly queue: string;
  readonly persistent: boolean;
  readonly bus: string;
  readonly allPlatforms: boolean;
  readonly persistentName: string | undefined;
  readonly queueType: 'classic' | 'quorum';
  /** Persistent only: ids of the messages passed on lately, to drop redeliveries (RecentIds). */
  readonly seen: RecentIds | undefined;
  readonly prefixes: Set<string>;
  readonly callback: RmqPubSubCallback;
}

/** A subscription as `subscriptions()` reports it, to be given to `subscribe` again (another connection). */
export interface RmqSubscriptionSpec {
  readonly prefixes: readonly string[];
  readonly callback: RmqPubSubCallback;
  readonly options: RmqSubscribeOptions;
}

/** `list` query (docs/protocol.md 3.5); rows `[bus, prefix, member]`. */
export interface RmqListOptions {
  readonly prefix?: string;
  /** null = every bus. */
  readonly bus?: string | null;
  readonly subscribed?: boolean;
  readonly reverse?: boolean;
  readonly allPlatforms?: boolean;
}

/**
 * VOLTTRON's RabbitMQ pubsub (docs/protocol.md 7.6) for an agent: publishes go straight to the
 * `volttron` exchange with `__pubsub__.<instance>.<topic>.#`, each subscription has its own queue
 * bound per prefix (per-segment matching, or character matching on request), the router is not
 * involved. Bindings carry `x-vip-bus`/`x-vip-prefix`/`x-vip-match` arguments (ignored by the
 * topic exchange) so that, with the management API, `list` shows buses and exact prefixes and
 * `publish` counts subscribers truly. A delivery calls the callback once per matching prefix. Interoperates with Python
 * agents on the same RMQ instance. Own broker connection; after a reconnect every subscription's
 * queue, bindings and consumer are declared again (VOLTTRON's synchronize), persistent queues
 * deliver what arrived meanwhile. Sends while disconnected reject with TransportError. Publishes
 * are confirmed (a confirm channel, pipelined): `publish` resolves only once the broker has routed
 * the message, and rejects with TransportError when it nacks or the connection drops first, or
 * with TopicWriteRefusedError (`code` VIP_UNAUTHORIZED) when RabbitMQ's topic permissions refuse
 * the topic (a protected topic; the subscriptions keep running).
 */
export class RmqPubSub extends BrokerClient {
  readonly identity: string;
  readonly #base: string;
  readonly #subs = new Set<Subscription>();
  readonly #tags = new Map<Subscription, string>();
  readonly #stats = {
    published: 0,
    delivered: 0,
    otherBus: 0,
    unmatched: 0,
    invalid: 0,
    spoofed: 0,
    callbackErrors: 0,
    countsUnknown: 0,
    duplicates: 0,
  };
  readonly #userId: string | undefined;
  /** The `user` header of own publishes (undefined: the identity). */
  readonly #user: string | undefined;
  readonly #policy: SenderPolicy;
  readonly #match: PrefixMatch;
  readonly #bindings: BindingSnapshots<BindingTable> | undefined;
  /** Why counts are not read any more: the management API refused this login (it will not change by itself). */
  #countsRefused: string | undefined;
  /** A count read failed and was warned about; cleared by the next read that works (one warning per outage). */
  #countOutage = false;
  #ids = 0;
  /** Makes message ids unique across this agent's runs, so a restarted publisher's ids never look like repeats. */
  readonly #idPrefix = `${randomUUID().slice(0, 8)}.`;

  constructor(options: RmqPubSubOptions) {
    const { identity, user, declareTopology, logger, prefixMatch, management, ...link } = options;
    const o = parseRmqLinkOptions(link, `RabbitMQ pubsub options of ${JSON.stringify(identity)}`);
    if (identity === '') throw new ConfigError('RMQ pubsub needs a non-empty identity');
    identityText(Buffer.from(identity, 'utf8'));
    const base = routingKeyFor(o.instanceName, identity);
    const userId = publisherUserId(o, identity);
    super(o, `RMQ pubsub ${identity}`, `vip-pubsub ${base}`, declareTopology ?? false, logger?.child({ identity, part: 'pubsub' }), userId);
    this.#userId = userId;
    this.#user = user;
    this.#policy = senderPolicyOf(o, identity);
    this.identity = identity;
    this.#base = base;
    this.#match = prefixMatch ?? 'segment';
    if (management) {
      const api = new ManagementReads(management);
      this.#bindings = new BindingSnapshots(
        async () => new BindingTable(await api.listBindings(o.vhost, VOLTTRON_EXCHANGE), o.instanceName),
      );
    }
  }

  /** How prefixes match topics (`segment` or `character`). */
  get prefixMatch(): PrefixMatch {
    return this.#match;
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
      persistentName: name,
      queueType: options.queueType ?? defaultPersistentQueueType(this.options),
      seen: name === undefined ? undefined : new RecentIds(RECENT_IDS),
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
  async unsubscribe(
    prefix?: string | readonly string[] | null,
    callback?: RmqPubSubCallback | null,
    options: { bus?: string; allPlatforms?: boolean } = {},
  ): Promise<void> {
    const drop = prefix === undefined || prefix === null ? undefined : new Set(typeof prefix === 'string' ? [prefix] : prefix);
    const bus = options.bus ?? '';
    for (const sub of [...this.#subs]) {
      if (sub.bus !== bus || (callback && sub.callback !== callback)) continue;
      if (options.allPlatforms !== undefined && sub.allPlatforms !== options.allPlatforms) continue;
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
        for (const p of gone)
          await ch.unbindQueue(sub.queue, VOLTTRON_EXCHANGE, this.#bindingKey(sub, p), pubsubBindingArguments(sub.bus, p, this.#match));
      }
    }
  }

  /**
   * Publish on `topic`. With `management`: resolves to the number of subscribers (distinct queue
   * owners) whose bindings route it on its bus, read from the broker's bindings by a request
   * started after the publish was written, settled after its confirm (limit: a binding made or removed between the publish
   * and that read is counted as the read finds it). Without, or with `count: false`: 1 once
   * confirmed, as VOLTTRON. A count that cannot be read (the management API refuses this login, as
   * it does an agent's own broker user, or does not answer) also resolves 1, with a warning: the
   * message was delivered, so the publish does not fail. A refused login is warned about once
   * (logger and process warning) and not asked again; an unreachable API once per outage.
   *
   * `relayedFrom` (the proxy router's login only): a publish of `sender` on another platform
   * `instance` (a ZeroMQ platform linked through the proxy), routed as that instance's
   * (`__pubsub__.<instance>.<topic>`, so only `all_platforms` subscribers bind it), sent as the
   * proxy's for `sender` (receivers: trust `proxied`), its `user` header `user` (the linked
   * platform's word, qualified by it: never a user of this instance).
   */
  async publish(
    p: PubSubPublish,
    options: {
      readonly count?: boolean;
      readonly relayedFrom?: { readonly instance: string; readonly sender: string; readonly user?: string };
    } = {},
  ): Promise<number> {
    const relay = options.relayedFrom;
    const sender = relay?.sender ?? this.identity;
    const id = `${this.identity}.pubsub.${this.#idPrefix}${++this.#ids}`;
    const encoded = encodePubsubPublish(this.options.instanceName, sender, p, id, relay ? relay.user : this.#user);
    const userId = relay ? publisherUserId(this.options, sender) : this.#userId;
    // delivery mode 2: a persistent subscription's durable queue keeps it across a broker restart
    // (the confirm then follows the disk write); other queues are not durable and keep it in memory
    const properties = { ...encoded.properties, persistent: true, ...(userId === undefined ? {} : { userId }) };
    const amqp: AmqpPublish = { ...encoded, ...(relay ? { routingKey: publishRoutingKey(relay.instance, p.topic) } : {}), properties };
    // the count read starts once the publish is written, alongside the wait for its confirm
    const counts = options.count === false || this.#countsRefused !== undefined ? undefined : this.#bindings;
    let read: Promise<BindingTable> | undefined;
    await this.publishConfirmed(
      amqp,
      `publish on ${JSON.stringify(p.topic)}`,
      counts &&
        (() => {
          read = counts.fresh();
        }),
    );
    this.#stats.published += 1;
    if (!read) return 1;
    let table;
    try {
      table = await read;
    } catch (err) {
      return this.#countUnknown(err);
    }
    this.#countOutage = false;
    return table.count(p.topic, p.bus ?? '', amqp.routingKey);
  }

  /** The publish went out but its subscriber count cannot be read: VOLTTRON's constant 1, said once. */
  #countUnknown(err: unknown): number {
    this.#stats.countsUnknown += 1;
    const refused = err instanceof RmqSetupError && (err.missing === 'credentials' || err.missing === 'permission');
    if (refused) {
      this.#countsRefused = (err as Error).message;
      const text =
        `RabbitMQ pubsub of ${this.identity}: the management API refused to read subscriber counts (${this.#countsRefused}); ` +
        'publish resolves 1 from now on, as VOLTTRON. Pass management options with a login that may read bindings for true counts, or management: false to say so';
      this.log.warn('pubsub.count.refused', { reason: this.#countsRefused });
      process.emitWarning(text, { code: 'VIP_RMQ_COUNT_UNKNOWN' });
    } else if (!this.#countOutage) {
      this.#countOutage = true;
      this.log.warn('pubsub.count.unavailable', { reason: (err as Error).message });
    }
    return 1;
  }

  /** The instance's pubsub subscriptions from the broker's bindings, as the router's `list` (needs `management`). */
  async list(options: RmqListOptions = {}): Promise<Array<[string, string, boolean]>> {
    if (!this.#bindings) {
      throw new RmqSetupError(
        'plugin',
        "RMQ pubsub list reads the broker's bindings through the management API, and none was configured",
        'pass management options',
      );
    }
    return listSubscriptions((await this.#bindings.fresh()).bindings, {
      instance: this.options.instanceName,
      identity: this.identity,
      prefix: options.prefix ?? '',
      bus: options.bus === undefined ? '' : options.bus,
      subscribed: options.subscribed ?? true,
      reverse: options.reverse ?? false,
      allPlatforms: options.allPlatforms ?? false,
    });
  }

  /** Declare every subscription's queue, bindings and consumer again (idempotent; VOLTTRON's synchronize). */
  async synchronize(): Promise<void> {
    const ch = this.channel;
    if (!ch) return; // declared on connect anyway
    for (const sub of this.#subs) {
      if (this.#tags.has(sub)) await this.#bind(ch, sub);
      else await this.#declareSub(ch, sub);
    }
  }

  /** The subscriptions held, to subscribe them again on another RmqPubSub (an agent's next start). */
  subscriptions(): RmqSubscriptionSpec[] {
    return [...this.#subs].map((s) => ({
      prefixes: [...s.prefixes],
      callback: s.callback,
      options: {
        bus: s.bus,
        allPlatforms: s.allPlatforms,
        ...(s.persistentName === undefined ? {} : { persistentQueue: s.persistentName, queueType: s.queueType }),
      },
    }));
  }

  stats(): RmqPubSubStats {
    return {
      ...this.#stats,
      rejectedWhileDisconnected: this.rejectedWhileDisconnected,
      unconfirmed: this.unconfirmed,
      refused: this.refused,
      confirmReopens: this.confirmReopens,
      confirmRenewals: this.confirmRenewals,
      countRequests: this.#bindings?.requests ?? 0,
    };
  }

  /** Publishes are confirmed: `publish` resolves once the broker has routed the message. */
  protected override usesConfirms(): boolean {
    return true;
  }

  protected async declare(ch: Channel): Promise<void> {
    for (const sub of this.#subs) await this.#declareSub(ch, sub);
  }

  #bindingKey(sub: Subscription, prefix: string): string {
    return pubsubBindingKey(this.options.instanceName, prefix, sub.allPlatforms, this.#match);
  }

  async #bind(ch: Channel, sub: Subscription): Promise<void> {
    for (const p of sub.prefixes)
      await ch.bindQueue(sub.queue, VOLTTRON_EXCHANGE, this.#bindingKey(sub, p), pubsubBindingArguments(sub.bus, p, this.#match));
  }

  protected override sessionDown(): void {
    this.#tags.clear();
  }

  async #declareSub(ch: Channel, sub: Subscription): Promise<void> {
    try {
      await ch.assertQueue(
        sub.queue,
        !sub.persistent
          ? { durable: false, autoDelete: true, exclusive: true }
          : sub.queueType === 'quorum'
            ? { durable: true, autoDelete: false, exclusive: false, arguments: { 'x-queue-type': 'quorum' } }
            : { durable: true, autoDelete: false, exclusive: false },
      );
      await this.#bind(ch, sub);
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
    const { headers, appId, userId, messageId } = msg.properties as {
      headers?: Record<string, unknown>;
      appId?: unknown;
      userId?: unknown;
      messageId?: unknown;
    };
    // a persistent queue redelivers what it sent before a lost ack, a federation link or shovel
    // republishes what it sent before its link was cut: pass each message on once
    const key = sub.seen && typeof messageId === 'string' && messageId !== '' ? `${String(appId)}|${messageId}` : undefined;
    if (key !== undefined && mayRepeat(msg.fields.redelivered, headers) && sub.seen?.has(key)) {
      this.#stats.duplicates += 1;
      this.ack(ch, msg, false);
      return;
    }
    if (key !== undefined) sub.seen?.add(key);
    const d = decodePubsubDelivery(msg.fields.routingKey, msg.content, headers, this.options.maxMessageBytes, {
      instance: this.options.instanceName,
      policy: this.#policy,
      appId,
      userId,
    });
    if (d instanceof InvalidPayloadError) {
      this.#stats.invalid += 1;
      if (d instanceof SpoofedSenderError) this.#stats.spoofed += 1;
      this.log.debug(d instanceof SpoofedSenderError ? 'rmq.pubsub.spoofed' : 'rmq.pubsub.invalid', { reason: d.detail });
    } else if (d.bus !== sub.bus) {
      this.#stats.otherBus += 1;
    } else {
      // once per matching prefix, as a ZMQ agent calls a callback for each prefix it matches
      let calls = 0;
      for (const p of sub.prefixes) if (prefixMatches(p, d.topic, this.#match)) calls += 1;
      if (calls === 0) this.#stats.unmatched += 1;
      else this.#stats.delivered += 1;
      for (let i = 0; i < calls; i++) this.#call(sub, d);
    }
    this.ack(ch, msg, !sub.persistent);
  }

  #call(sub: Subscription, d: PubSubDelivery): void {
    try {
      sub.callback(d);
    } catch (err) {
      this.#stats.callbackErrors += 1;
      this.log.warn('rmq.pubsub.callback-failed', {}, err);
    }
  }
}
