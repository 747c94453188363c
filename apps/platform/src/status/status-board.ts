import {
  frameText,
  identityKey,
  type Frame,
  type LinkedPlatform,
  type RouterExtension,
  type StatusPeer,
  type StatusSnapshot,
} from '@vip/protocol';
import { PubSubService, type PubSubStats } from '@vip/pubsub';
import type { Router, RouterStats } from '@vip/router';
import { RateHistory } from './rate-history.js';

/** Default bound of the rate history: 32 KiB, 1024 samples (17 minutes at one a second). */
export const DEFAULT_HISTORY_BYTES = 32 * 1024;
export const DEFAULT_SAMPLE_MS = 1000;
/** Rows of the snapshot's lists at most (the page and `vipctl top` show the first ones). */
export const MAX_STATUS_PEERS = 500;
export const MAX_STATUS_TOPICS = 200;

export interface StatusBoardOptions {
  readonly instance: string;
  readonly bus: 'zmq' | 'rmq';
  readonly version: string;
  /** The platform's links to other platforms and their state (the multi-platform routing service); none without it. */
  readonly linkedPlatforms: () => readonly LinkedPlatform[];
  readonly historyBytes?: number;
  readonly sampleMs?: number;
  readonly now?: () => number;
}

/** The raw counters `/metrics` reads (one call each, at scrape time). */
export interface StatusFigures {
  readonly router: RouterStats;
  /** The router's pubsub (ZeroMQ; on RabbitMQ pubsub is the broker's and these stay near zero). */
  readonly pubsub: PubSubStats | undefined;
  readonly transport: Record<string, unknown>;
  readonly links: { readonly connected: number; readonly joined: number; readonly left: number };
  readonly trackerEnabled: boolean;
}

interface Totals {
  received: number;
  delivered: number;
  dropped: number;
}

/**
 * What the status page, `/metrics` and `vipctl top` show, read from the running router: peers
 * (with the user the bus proved, and when they joined: a router extension that serves no
 * subsystem and only hears peers come and go), topics with their subscriber counts, a bounded
 * history of message, delivery and drop rates sampled every `sampleMs`, the Tracker's figures and
 * the linked platforms. Sampling starts with `attach` and stops with `close`.
 */
export class StatusBoard {
  readonly #o: StatusBoardOptions;
  readonly #now: () => number;
  readonly #history: RateHistory;
  readonly #joined = new Map<string, { readonly identity: string; readonly since: number }>();
  readonly #listeners = new Set<() => void>();
  readonly #startedAt: number;
  #joins = 0;
  #leaves = 0;
  #router: Router | undefined;
  #transportStats: (() => Record<string, unknown>) | undefined;
  #userOf: ((identity: string) => string | undefined) | undefined;
  #last: (Totals & { t: number }) | undefined;
  #timer: NodeJS.Timeout | undefined;

  /** The peer hooks, to register with the router's extensions. */
  readonly extension: RouterExtension;

  constructor(options: StatusBoardOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#startedAt = this.#now();
    this.#history = new RateHistory(options.historyBytes ?? DEFAULT_HISTORY_BYTES);
    this.extension = {
      subsystems: [],
      name: 'status',
      attach: () => undefined,
      handle: () => false,
      peerAdded: (peer: Frame) => {
        this.#joins++;
        this.#joined.set(identityKey(peer), { identity: frameText(peer), since: this.#now() });
      },
      peerDropped: (peer: Frame) => {
        this.#leaves++;
        this.#joined.delete(identityKey(peer));
      },
    };
  }

  get sampleMs(): number {
    return this.#o.sampleMs ?? DEFAULT_SAMPLE_MS;
  }

  /** Bytes the rate history holds (fixed at construction). */
  get historyBytes(): number {
    return this.#history.bytes;
  }

  /**
   * The router routes: sample its counters every `sampleMs` from now on. `userOf`: the user the
   * bus proved for a peer (its ZAP admission, its broker user); undefined: its identity.
   */
  attach(router: Router, transportStats: () => Record<string, unknown>, userOf?: (identity: string) => string | undefined): void {
    this.#router = router;
    this.#transportStats = transportStats;
    this.#userOf = userOf;
    this.#last = { ...this.#totals(), t: this.#now() };
    this.#timer = setInterval(() => this.sample(), this.sampleMs);
    this.#timer.unref();
  }

  /** Hear each new sample (the page's live feed); returns the remover. */
  onSample(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /** Take one sample now: rates since the previous one. */
  sample(): void {
    if (!this.#router || !this.#last) return;
    const t = this.#now();
    const totals = this.#totals();
    const seconds = Math.max((t - this.#last.t) / 1000, 1e-3);
    const rate = (k: keyof Totals) => Math.max(0, totals[k] - (this.#last as Totals)[k]) / seconds;
    this.#history.push({ t, messages: rate('received'), deliveries: rate('delivered'), drops: rate('dropped') });
    this.#last = { ...totals, t };
    for (const listener of this.#listeners) {
      try {
        listener();
      } catch {
        // a listener's failure (a closed response) is its own; the others still hear the sample
      }
    }
  }

  figures(): StatusFigures {
    const router = this.#requireRouter();
    return {
      router: router.stats(),
      pubsub: this.#pubsub()?.detailedStats(),
      transport: this.#transportStats?.() ?? {},
      links: { connected: router.peers.size, joined: this.#joins, left: this.#leaves },
      trackerEnabled: router.tracker.enabled,
    };
  }

  /** The board now; `rates` = how many of the latest samples to include (all by default). */
  snapshot(options: { rates?: number } = {}): StatusSnapshot {
    const router = this.#requireRouter();
    const stats = router.stats();
    const pubsub = this.#pubsub();
    const pubsubStats = pubsub?.detailedStats();
    const queues = new Map((pubsub?.subscriberQueues() ?? []).map((q) => [q.peer, q]));
    const drops = new Map((pubsubStats?.droppedBySubscriber ?? []).map((d) => [d.peer, d.dropped]));
    const peers: StatusPeer[] = [];
    const all = router.peers.list();
    for (const peer of all.slice(0, MAX_STATUS_PEERS)) {
      const key = identityKey(peer);
      const identity = frameText(peer);
      const q = queues.get(key);
      peers.push({
        identity,
        user: shownUser(this.#userOf?.(identity), identity),
        bus: this.#o.bus,
        connectedSince: this.#joined.get(key)?.since ?? this.#startedAt,
        queued: q?.count ?? 0,
        queuedBytes: q?.bytes ?? 0,
        dropped: drops.get(key) ?? 0,
      });
    }
    const topics = pubsub?.index.prefixCounts(MAX_STATUS_TOPICS) ?? { rows: [], omitted: 0 };
    const tracker = router.tracker.get();
    const sum = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);
    return {
      instance: this.#o.instance,
      bus: this.#o.bus,
      version: this.#o.version,
      startedAt: this.#startedAt,
      now: this.#now(),
      totals: {
        received: stats.received,
        forwarded: stats.forwarded,
        published: pubsubStats?.published ?? 0,
        delivered: pubsubStats?.delivered ?? 0,
        dropped: this.#totals(stats, pubsubStats).dropped,
      },
      peers,
      peersOmitted: all.length - peers.length,
      topics: topics.rows.map((r) => ({ bus: r.bus, prefix: frameText(r.prefix), subscribers: r.subscribers })),
      topicsOmitted: topics.omitted,
      rates: this.#history.samples(options.rates),
      sampleSeconds: this.sampleMs / 1000,
      tracker: {
        enabled: router.tracker.enabled,
        ...(tracker.start !== undefined ? { start: tracker.start } : {}),
        incoming: tracker.incoming.subsystem,
        outgoing: tracker.outgoing.subsystem,
        errors: sum(tracker.error.error),
        unroutable: sum(tracker.unroutable.error),
      },
      linkedPlatforms: [...this.#o.linkedPlatforms()],
    };
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#listeners.clear();
  }

  #requireRouter(): Router {
    if (!this.#router) throw new Error('the status board is not attached to a router yet');
    return this.#router;
  }

  #pubsub(): PubSubService | undefined {
    return this.#router?.extensions.find((e): e is PubSubService => e instanceof PubSubService);
  }

  /** Received, delivered (forwards and pubsub deliveries) and dropped (router and pubsub) so far. */
  #totals(stats = this.#router?.stats(), pubsub = this.#pubsub()?.detailedStats()): Totals {
    const sum = (m: Record<string, number> | undefined) => Object.values(m ?? {}).reduce((a, b) => a + b, 0);
    return {
      received: stats?.received ?? 0,
      delivered: (stats?.forwarded ?? 0) + (pubsub?.delivered ?? 0),
      dropped: sum(stats?.dropped) + sum(pubsub?.dropped),
    };
  }
}

/** The user to show: the proven one, `(unproven)` where the bus required a proof the peer did not give, its identity where the bus proves nothing. */
function shownUser(proven: string | undefined, identity: string): string {
  if (proven === undefined) return identity;
  return proven === '' ? '(unproven)' : proven;
}
