import { errorArgs, ERRNO, identityKey, textFrame, type Frame, type Logger, type RouterServices } from '@vip/protocol';
import type { SubscriptionTable } from '../subscription-file.js';
import type { SubscriptionIndex } from '../subscription-index.js';
import type { SubscriptionStore } from '../subscription-store.js';
import { HeldDeliveries, type HeldMessage } from './held-deliveries.js';

const PUBSUB = textFrame('pubsub');
const ERROR = textFrame('error');

/** How the service keeps its subscription table across restarts (`PubSubServiceOptions.persistence`). */
export interface SubscriptionPersistenceOptions {
  /** Where the table is written on every change. */
  readonly store: SubscriptionStore;
  /** What `store.load()` returned at start: restored into the index, its subscribers awaited. */
  readonly restored?: SubscriptionTable;
  /** How long messages are held for a restored subscriber that has not come back. Default 60 s. */
  readonly graceMs?: number;
  /** Held messages over all restored subscribers: bytes (default 64 MiB) and count (default 100 000). */
  readonly maxHeldBytes?: number;
  readonly maxHeldMessages?: number;
  /** Held bytes per subscriber. Default 16 MiB. */
  readonly maxHeldBytesPerSubscriber?: number;
  /** How often a subscriber found away is tried again. Default 1 s. */
  readonly probeIntervalMs?: number;
}

export const DEFAULT_RESTORE_GRACE_MS = 60_000;

export interface PersistenceHooks {
  readonly services: () => RouterServices;
  readonly index: SubscriptionIndex;
  /** Drop a subscriber's subscriptions (and re-advertise), as `peerDropped` does. */
  readonly dropSubscriptions: (subscriber: string) => void;
  /** A subscriber found gone during a replay: drop it everywhere (pubsub and router). */
  readonly unreachable: (subscriber: string) => void;
  /** Send a router reply to a publisher (the service's counted reply path). */
  readonly reply: (to: Frame, user: Frame, id: Frame, subsystem: Frame, args: readonly Frame[]) => void;
  readonly logger: () => Logger;
}

/**
 * The PubSubService's side of restarts: writes the index through the store on every change,
 * restores the saved table at start and holds messages for its subscribers until they are back
 * (HeldDeliveries). Everything the service needs is one call per operation.
 */
export class Persistence {
  readonly #store: SubscriptionStore;
  readonly #held: HeldDeliveries;
  readonly #graceMs: number;
  readonly #restored: SubscriptionTable;
  readonly #hooks: PersistenceHooks;

  constructor(options: SubscriptionPersistenceOptions, hooks: PersistenceHooks) {
    this.#store = options.store;
    this.#hooks = hooks;
    this.#graceMs = options.graceMs ?? DEFAULT_RESTORE_GRACE_MS;
    this.#restored = options.restored ?? new Map();
    this.#held = new HeldDeliveries(
      {
        services: hooks.services,
        wants: (key, bus, topic) => hooks.index.match(bus, topic).has(key),
        forget: (key) => hooks.dropSubscriptions(key),
        unreachable: (key) => hooks.unreachable(key),
        reportAgain: (key, m) => this.#reportAgain(key, m),
        logger: hooks.logger,
      },
      {
        maxBytes: options.maxHeldBytes ?? 64 * 1024 * 1024,
        maxMessages: options.maxHeldMessages ?? 100_000,
        maxBytesPerSubscriber: options.maxHeldBytesPerSubscriber ?? 16 * 1024 * 1024,
      },
      options.probeIntervalMs ?? 1_000,
    );
    for (const [peer, subs] of this.#restored) for (const s of subs) hooks.index.add(peer, s.platform, s.bus, s.prefix);
    this.#store.source(() => snapshotOf(hooks.index));
  }

  /** The router is up: wait for the restored subscribers from now on. */
  start(): void {
    if (this.#restored.size === 0) return;
    this.#held.await(this.#restored.keys(), this.#graceMs);
    let subscriptions = 0;
    for (const subs of this.#restored.values()) subscriptions += subs.length;
    this.#hooks.logger().info('pubsub.subscriptions.restored', {
      subscribers: this.#restored.size,
      subscriptions,
      grace_ms: this.#graceMs,
      path: this.#store.path,
    });
  }

  /** The index changed: write it. */
  changed(): void {
    this.#store.changed();
  }

  /** Run `then` once the index as of now is on disk (a subscribe is acknowledged after it would survive a crash). */
  afterSave(then: () => void): void {
    void this.#store.saved().then(then);
  }

  /** A pubsub message from `sender`: a restored subscriber is back. */
  seen(sender: Frame): void {
    if (this.#held.size > 0) this.#held.seen(identityKey(sender));
  }

  /** Hold the publish for the restored subscribers among `subscribers` (removed from it); returns how many hold it. */
  hold(subscribers: Set<string>, bus: string, topic: Frame, publisher: Frame, user: Frame, id: Frame, args: readonly Frame[]): number {
    if (this.#held.size === 0) return 0;
    return this.#held.take(subscribers, { bus, topic, publisher, user, id, args });
  }

  /** The router dropped `subscriber`: nothing stays held for it. */
  dropped(subscriber: string): void {
    if (this.#held.size > 0) this.#held.dropped(subscriber);
  }

  stats(): Record<string, number> {
    const s = this.#store.stats();
    const out: Record<string, number> = {
      'held.messages': this.#held.messages,
      'held.bytes': this.#held.bytes,
      'held.subscribers_awaited': this.#held.size,
      'persist.writes': s.writes,
      'persist.write_failures': s.writeFailures,
      'persist.too_large': s.tooLarge,
      'persist.set_aside': s.setAside,
      'persist.restored_subscribers': s.restoredSubscribers,
      'persist.restored_subscriptions': s.restoredSubscriptions,
    };
    for (const [k, v] of Object.entries(this.#held.counters)) out[`held.${k}`] = v;
    return out;
  }

  /** Stop holding (what is held is dropped, counted); the store writes what is pending and stops. */
  async close(): Promise<void> {
    this.#held.close();
    await this.#store.close();
  }

  /** Error 11 naming the subscriber, as a live back-pressure drop reports it (docs/protocol.md 3.3). */
  #reportAgain(subscriber: string, m: HeldMessage): void {
    this.#hooks.reply(m.publisher, m.user, m.id, ERROR, errorArgs(ERRNO.EAGAIN, Buffer.from(subscriber, 'latin1'), PUBSUB));
  }
}

function snapshotOf(index: SubscriptionIndex): SubscriptionTable {
  const table = new Map<string, ReturnType<SubscriptionIndex['subscriptionsOf']>>();
  for (const peer of index.peers()) table.set(peer, index.subscriptionsOf(peer));
  return table;
}
