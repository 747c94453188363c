/** Why a delivery to a subscriber did not happen. */
export type DropReason = 'again' | 'unreachable' | 'backlog' | 'error';

export interface SubscriberDrops {
  readonly peer: string;
  readonly dropped: number;
}

/** What `PubSubService.detailedStats()` reports. */
export interface PubSubStats {
  readonly published: number;
  readonly delivered: number;
  readonly dropped: Readonly<Record<DropReason, number>>;
  /** Subscribers with the most drops (at most `maxTrackedSubscribers`, oldest evicted first). */
  readonly droppedBySubscriber: readonly SubscriberDrops[];
  /** `not_platform_link`: external_publish/external_list from a peer that is not a platform link. */
  readonly rejected: Readonly<Record<'unauthorized' | 'invalid' | 'unknown_op' | 'forbidden' | 'not_platform_link', number>>;
  readonly pending: number;
  /** Bytes of the pending deliveries (args summed, per subscriber). */
  readonly pendingBytes: number;
  readonly subscriptions: number;
  readonly subscribers: number;
  readonly remotePlatforms: number;
  /** Publishes for remote platforms' subscribers that no link took or that a link lost (docs/protocol.md 6.4). */
  readonly remoteUndeliverable: number;
  readonly remoteUndeliverableByPlatform: Readonly<Record<string, number>>;
  readonly countsClamped: number;
  readonly repliesDropped: number;
}

/**
 * Counters of the pubsub service. Per-subscriber drop counts live in a bounded map: when full,
 * the least recently dropping subscriber is forgotten, so a churn of identities cannot grow memory.
 */
export class DeliveryStats {
  published = 0;
  delivered = 0;
  countsClamped = 0;
  /** Replies and error reports to publishers that did not reach them (their own queue full, gone). */
  repliesDropped = 0;
  readonly dropped: Record<DropReason, number> = { again: 0, unreachable: 0, backlog: 0, error: 0 };
  readonly rejected = { unauthorized: 0, invalid: 0, unknown_op: 0, forbidden: 0, not_platform_link: 0 };
  readonly #bySubscriber = new Map<string, number>();
  readonly #max: number;

  constructor(maxTrackedSubscribers: number) {
    this.#max = Math.max(1, maxTrackedSubscribers);
  }

  drop(reason: DropReason, subscriber: string): void {
    this.dropped[reason]++;
    const n = (this.#bySubscriber.get(subscriber) ?? 0) + 1;
    this.#bySubscriber.delete(subscriber); // re-insert: Map order = recency
    this.#bySubscriber.set(subscriber, n);
    if (this.#bySubscriber.size > this.#max) {
      const oldest = this.#bySubscriber.keys().next().value;
      if (oldest !== undefined) this.#bySubscriber.delete(oldest);
    }
  }

  bySubscriber(): SubscriberDrops[] {
    return [...this.#bySubscriber].map(([peer, dropped]) => ({ peer, dropped })).sort((a, b) => b.dropped - a.dropped);
  }
}

/** Subscribers with the most drops shown in the flat stats (the full bounded list is in `detailedStats()`). */
const FLAT_TOP_SUBSCRIBERS = 20;

/** The counters of `PubSubStats` as flat `name: number` pairs (`dropped.again`, `rejected.invalid`...). */
export function flattenStats(s: PubSubStats): Record<string, number> {
  const out: Record<string, number> = {
    published: s.published,
    delivered: s.delivered,
    pending: s.pending,
    pending_bytes: s.pendingBytes,
    subscriptions: s.subscriptions,
    subscribers: s.subscribers,
    remote_platforms: s.remotePlatforms,
    remote_undeliverable: s.remoteUndeliverable,
    counts_clamped: s.countsClamped,
    replies_dropped: s.repliesDropped,
  };
  for (const [k, v] of Object.entries(s.dropped)) out[`dropped.${k}`] = v;
  for (const [k, v] of Object.entries(s.rejected)) out[`rejected.${k}`] = v;
  for (const [k, v] of Object.entries(s.remoteUndeliverableByPlatform)) out[`remote_undeliverable.${k}`] = v;
  for (const d of s.droppedBySubscriber.slice(0, FLAT_TOP_SUBSCRIBERS)) out[`dropped_by_subscriber.${d.peer}`] = d.dropped;
  return out;
}
