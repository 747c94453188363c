import type { VipMessage } from '@vip/protocol';
import { NotStartedError } from '../errors.js';
import type { ManagementOptions, RmqLinkOptionsInput } from '@vip/rmq';
import {
  RmqPubSub,
  type PrefixMatch,
  type PubSubDelivery,
  type PubSubPublish,
  type RmqPubSubCallback,
  type RmqSubscriptionSpec,
} from '@vip/rmq/pubsub';
import type { AgentCore } from '../subsystem.js';
import {
  PubSubSubsystem,
  type ListOptions,
  type ListRow,
  type PubSubCallback,
  type PublishOptions,
  type SubscribeOptions,
  type UnsubscribeOptions,
} from './pubsub-subsystem.js';

/** How long a re-welcome waits for the broker pubsub's own connection (it reconnects with its own back-off). */
const RECONNECT_WAIT_MS = 10_000;

export interface RmqPubSubSubsystemOptions {
  /** The agent's broker link (url, vhost, instanceName, tls, reconnect); pubsub opens its own connection on it. */
  readonly link: RmqLinkOptionsInput;
  /** `segment` (default, VOLTTRON's RMQ semantics) or `character` (ZMQ's `startsWith`). */
  readonly prefixMatch?: PrefixMatch;
  /** Management API for true subscriber counts and `list`; without it publish resolves 1 and list rejects. */
  readonly management?: ManagementOptions;
}

export interface RmqSubscribeOptions extends SubscribeOptions {
  /**
   * Keep messages while the agent is away: durable queue `<instance>.<identity>.pubsub.persistent.<name>`
   * (VOLTTRON's `persistent_queue`); the next start with the same name receives the backlog.
   */
  readonly persistentQueue?: string;
  /** A persistent queue's type (`quorum` replicated on a cluster); default the link's `persistentQueueType`. */
  readonly queueType?: 'classic' | 'quorum';
}

/**
 * `agent.pubsub` of an agent on a RabbitMQ platform: VOLTTRON's broker pubsub (rmq_pubsub,
 * docs/protocol.md 7.6) behind the ZMQ subsystem's API. Publishes go straight to the `volttron`
 * exchange, subscriptions are queues bound there (RmqPubSub, its own broker connection, opened
 * on the agent's first welcome and closed when the agent stops); the router is not involved, so
 * Python RMQ agents on the same instance see our publishes and we see theirs. Subscriptions made
 * before start, and those held at a stop, are declared again on the next start.
 */
export class RmqPubSubSubsystem extends PubSubSubsystem {
  readonly #core: AgentCore;
  readonly #o: RmqPubSubSubsystemOptions;
  readonly #wrapped = new WeakMap<PubSubCallback, RmqPubSubCallback>();
  #ps: RmqPubSub | undefined;
  #held: RmqSubscriptionSpec[] = [];
  #unexpected = 0;

  constructor(core: AgentCore, options: RmqPubSubSubsystemOptions) {
    super(core);
    this.#core = core;
    this.#o = options;
  }

  /** The broker pubsub while the agent runs (stats, persistent queues); undefined when stopped. */
  get broker(): RmqPubSub | undefined {
    return this.#ps;
  }

  override async subscribe(prefix: string | readonly string[], callback: PubSubCallback, options: RmqSubscribeOptions = {}): Promise<void> {
    const spec: RmqSubscriptionSpec = {
      prefixes: typeof prefix === 'string' ? [prefix] : [...prefix],
      callback: this.#wrap(callback),
      options: {
        bus: options.bus ?? '',
        allPlatforms: options.allPlatforms ?? false,
        ...(options.persistentQueue === undefined ? {} : { persistentQueue: options.persistentQueue }),
        ...(options.queueType === undefined ? {} : { queueType: options.queueType }),
      },
    };
    if (this.#ps) await this.#ps.subscribe(spec.prefixes, spec.callback, spec.options);
    else this.#held.push(spec);
  }

  override async unsubscribe(
    prefix?: string | readonly string[] | null,
    callback?: PubSubCallback | null,
    options: UnsubscribeOptions = {},
  ): Promise<void> {
    const wrapped = callback ? this.#wrapped.get(callback) : undefined;
    if (callback && !wrapped) return; // never subscribed: harmless, as on ZMQ
    const bus = options.bus ?? '';
    const allPlatforms = options.allPlatforms ?? false;
    if (this.#ps) {
      await this.#ps.unsubscribe(prefix, wrapped ?? null, { bus, allPlatforms });
      return;
    }
    const drop = prefix === undefined || prefix === null ? undefined : new Set(typeof prefix === 'string' ? [prefix] : prefix);
    this.#held = this.#held.flatMap((s) => {
      if ((s.options.bus ?? '') !== bus || (s.options.allPlatforms ?? false) !== allPlatforms || (wrapped && s.callback !== wrapped))
        return [s];
      const left = drop ? s.prefixes.filter((p) => !drop.has(p)) : [];
      return left.length > 0 ? [{ ...s, prefixes: left }] : [];
    });
  }

  /** Publish through the broker; resolves to the subscribers reached (with management), else 1 as VOLTTRON. */
  override async publish(topic: string, options: PublishOptions = {}): Promise<number> {
    return this.#running().publish(brokerPublish(topic, options));
  }

  /** Publish through the broker without reading the subscriber count; resolves once the broker confirmed it (pipelined; waits while the socket buffer is full). */
  override async publishNoWait(topic: string, options: PublishOptions = {}): Promise<void> {
    await this.#running().publish(brokerPublish(topic, options), { count: false });
  }

  override async list(options: ListOptions = {}): Promise<ListRow[]> {
    return this.#running().list(options);
  }

  /** Declare every subscription's queue and bindings again (VOLTTRON's RMQ synchronize). */
  override async synchronize(): Promise<void> {
    await this.#ps?.synchronize();
  }

  override stats(): Record<string, number> {
    const s = this.#ps?.stats();
    return {
      published: s?.published ?? 0,
      received: s?.delivered ?? 0,
      unmatched: s?.unmatched ?? 0,
      other_bus: s?.otherBus ?? 0,
      invalid: s?.invalid ?? 0,
      spoofed: s?.spoofed ?? 0,
      callback_errors: s?.callbackErrors ?? 0,
      count_requests: s?.countRequests ?? 0,
      counts_unknown: s?.countsUnknown ?? 0,
      unconfirmed: s?.unconfirmed ?? 0,
      refused: s?.refused ?? 0,
      rejected_while_disconnected: s?.rejectedWhileDisconnected ?? 0,
      // a persistent subscription's repeats of messages already passed on (redelivered, or sent again by a link), dropped
      repeats_dropped: s?.duplicates ?? 0,
      unexpected_router_messages: this.#unexpected,
    };
  }

  /**
   * First welcome: open the broker pubsub with the held subscriptions. Later welcomes (the agent's
   * connection came back) wait for the pubsub's own connection to be back too, up to
   * RECONNECT_WAIT_MS, so `connected` means publishes go out; then re-declare (idempotent).
   */
  override async onConnected(): Promise<void> {
    if (this.#ps) {
      if (!(await this.#ps.whenConnected(RECONNECT_WAIT_MS))) {
        this.#core.logger.warn('pubsub.broker.still-reconnecting', { waitedMs: RECONNECT_WAIT_MS });
      }
      return this.#ps.synchronize();
    }
    const ps = new RmqPubSub({
      ...this.#o.link,
      identity: this.#core.identity,
      logger: this.#core.logger,
      ...(this.#o.prefixMatch ? { prefixMatch: this.#o.prefixMatch } : {}),
      ...(this.#o.management ? { management: this.#o.management } : {}),
    });
    for (const s of this.#held) await ps.subscribe(s.prefixes, s.callback, s.options);
    try {
      await ps.open();
    } catch (err) {
      await ps.close();
      throw err;
    }
    this.#held = [];
    this.#ps = ps;
  }

  /** Router pubsub messages are not expected on broker pubsub: counted, dropped. */
  override handle(_message: VipMessage): void {
    this.#unexpected += 1;
  }

  /** The agent stopped: close the broker connection (exclusive queues go with it), keep the subscriptions for a restart. */
  override async close(): Promise<void> {
    const ps = this.#ps;
    this.#ps = undefined;
    if (!ps) return;
    this.#held = ps.subscriptions();
    await ps.close();
  }

  #running(): RmqPubSub {
    if (!this.#ps) throw new NotStartedError(this.#core.identity);
    return this.#ps;
  }

  #wrap(callback: PubSubCallback): RmqPubSubCallback {
    let w = this.#wrapped.get(callback);
    if (!w) {
      w = (d: PubSubDelivery) => {
        const r: unknown = callback('pubsub', d.sender, d.bus, d.topic, d.headers as Record<string, unknown>, d.message);
        if (r instanceof Promise) r.catch((err: unknown) => this.#core.logger.warn('pubsub.callback.failed', { topic: d.topic }, err));
      };
      this.#wrapped.set(callback, w);
    }
    return w;
  }
}

function brokerPublish(topic: string, options: PublishOptions): PubSubPublish {
  return { topic, bus: options.bus ?? '', headers: options.headers ?? {}, message: options.message };
}
