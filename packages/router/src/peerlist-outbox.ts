import { identityKey, PEERLIST_ADD_FRAME, PEERLIST_DROP_FRAME, type DeliveryResult, type Frame } from '@vip/protocol';

export interface PeerlistOutboxOptions {
  /** Sends `peerlist <args>` from the router to `to` (the router drops a peer that is unreachable). */
  readonly deliver: (to: Frame, args: readonly Frame[]) => Promise<DeliveryResult> | void;
  /** Bumps a named counter (`peerlist sent`, `peerlist coalesced`, `peerlist overflow`). */
  readonly count: (name: string, n: number) => void;
  /** Sends per turn before yielding to the event loop. Default 250. */
  readonly batch?: number;
  /**
   * At most this many sends per second, on average. Every send is encrypted by libzmq's I/O
   * thread, the one that also runs CURVE handshakes: without a pace a storm's O(n²) events would
   * queue millions of messages ahead of the next client's handshake. Default 25,000.
   */
  readonly perSecond?: number;
  /** Events kept for peers that have not had them yet; beyond, the oldest are dropped (counted). Default 100,000. */
  readonly maxEvents?: number;
  /** Runs the next turn as a new macrotask, `delayMs` from now (0: as soon as possible). Default timers. */
  readonly defer?: (fn: () => void, delayMs: number) => void;
  /** Clock in ms. Default `performance.now`. */
  readonly now?: () => number;
}

interface PeerlistEvent {
  readonly add: boolean;
  readonly key: string;
  /** `[add|drop, peer]`, made once for every recipient. */
  readonly args: readonly Frame[];
}

interface Recipient {
  readonly peer: Frame;
  readonly key: string;
  /** Sequence number of the next event this peer has not had. */
  cursor: number;
}

/**
 * `peerlist add|drop` for every known peer (VOLTTRON semantics, docs/protocol.md 2.3), sent at low
 * priority so that a connection storm cannot hold up admissions, hellos or normal traffic:
 * - one shared log of events, each encoded once, and a cursor per recipient (memory grows with
 *   events plus peers, never with their product);
 * - sent in turns of `batch` deliveries, each turn a new macrotask, paced at `perSecond`, so
 *   whatever else the router and libzmq's I/O thread have to do (handshakes, hellos, traffic)
 *   runs in between;
 * - coalescing: a peer that joined and left again before a recipient was told of it is never
 *   mentioned to that recipient (a burst of short connections costs nothing per other peer);
 * - bounded: past `maxEvents` undelivered events the oldest are dropped, and the recipients that
 *   miss them are counted (`peerlist overflow`).
 * A recipient hears only of events after it joined (it lists the peers itself, as with VOLTTRON).
 */
export class PeerlistOutbox {
  readonly #deliver: PeerlistOutboxOptions['deliver'];
  readonly #count: PeerlistOutboxOptions['count'];
  readonly #batch: number;
  readonly #intervalMs: number;
  readonly #maxEvents: number;
  readonly #defer: (fn: () => void, delayMs: number) => void;
  readonly #now: () => number;
  #lastTurn = -Infinity;
  readonly #recipients = new Map<string, Recipient>();
  #events: PeerlistEvent[] = [];
  /** Sequence number of `#events[0]`. */
  #base = 0;
  #scheduled = false;
  #closed = false;
  #drained: Array<() => void> = [];
  /** Where the next turn starts, for fairness between recipients. */
  #rotation: Recipient[] = [];

  constructor(options: PeerlistOutboxOptions) {
    this.#deliver = options.deliver;
    this.#count = options.count;
    this.#batch = options.batch ?? 250;
    this.#intervalMs = (this.#batch * 1000) / (options.perSecond ?? 25_000);
    this.#maxEvents = options.maxEvents ?? 100_000;
    this.#defer = options.defer ?? ((fn, delayMs) => void (delayMs > 0 ? setTimeout(fn, delayMs) : setImmediate(fn)));
    this.#now = options.now ?? (() => performance.now());
  }

  /** Events not yet delivered to every recipient. */
  get backlog(): number {
    return this.#events.length;
  }

  /** Resolves once every event published so far has been handed to `deliver` (or dropped). */
  drained(): Promise<void> {
    if (this.#events.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  /** `peer` hears of every event published from now on. */
  join(peer: Frame): void {
    const key = identityKey(peer);
    this.#recipients.set(key, { peer, key, cursor: this.#next });
  }

  leave(peer: Frame): void {
    this.#recipients.delete(identityKey(peer));
  }

  /** Every recipient will be told `peerlist add|drop <peer>`. */
  publish(add: boolean, peer: Frame): void {
    if (this.#closed || this.#recipients.size === 0) return;
    this.#events.push({ add, key: identityKey(peer), args: [add ? PEERLIST_ADD_FRAME : PEERLIST_DROP_FRAME, peer] });
    if (this.#events.length > this.#maxEvents) this.#trim(this.#events.length - this.#maxEvents);
    this.#schedule();
  }

  close(): void {
    this.#closed = true;
    this.#events = [];
    this.#recipients.clear();
    this.#settle();
  }

  get #next(): number {
    return this.#base + this.#events.length;
  }

  #schedule(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    const wait = Math.max(0, this.#lastTurn + this.#intervalMs - this.#now());
    this.#defer(() => {
      this.#scheduled = false;
      this.#lastTurn = this.#now();
      this.#turn();
    }, wait);
  }

  /** One turn: up to `batch` deliveries, recipient by recipient; then the log is trimmed. */
  #turn(): void {
    if (this.#closed) return;
    if (this.#rotation.length === 0) this.#rotation = [...this.#recipients.values()];
    let budget = this.#batch;
    while (budget > 0 && this.#rotation.length > 0) {
      const r = this.#rotation[this.#rotation.length - 1] as Recipient;
      if (this.#recipients.get(r.key) !== r || r.cursor >= this.#next) {
        this.#rotation.pop();
        continue;
      }
      budget -= Math.max(1, this.#send(r, budget)); // a stretch that was all coalesced still costs a little
      if (r.cursor >= this.#next) this.#rotation.pop();
    }
    let low = this.#next;
    for (const r of this.#recipients.values()) if (r.cursor < low) low = r.cursor;
    if (low > this.#base) {
      this.#events = this.#events.slice(low - this.#base);
      this.#base = low;
    }
    if (this.#events.length > 0) this.#schedule();
    else this.#settle();
  }

  #settle(): void {
    const waiters = this.#drained;
    this.#drained = [];
    for (const w of waiters) w();
  }

  /**
   * Sends `r` the next `budget` events it has not had, net of peers that came and went within
   * them; returns the deliveries made (at most `budget`).
   */
  #send(r: Recipient, budget: number): number {
    const from = r.cursor - this.#base;
    const to = Math.min(this.#events.length, from + Math.max(budget, 1));
    const final = new Map<string, PeerlistEvent>();
    for (let i = from; i < to; i++) {
      const e = this.#events[i] as PeerlistEvent;
      final.set(e.key, e);
    }
    let sent = 0;
    const told = new Set<string>();
    for (let i = from; i < to; i++) {
      const first = this.#events[i] as PeerlistEvent;
      if (told.has(first.key)) continue;
      told.add(first.key);
      const last = final.get(first.key) as PeerlistEvent;
      if (first.key === r.key || (first.add && !last.add)) continue; // itself, or came and went before it was told
      if (!first.add && last.add) {
        void this.#deliver(r.peer, first.args); // left and came back: both
        sent++;
      }
      void this.#deliver(r.peer, last.args);
      sent++;
    }
    r.cursor = this.#base + to;
    if (sent > 0) this.#count('peerlist sent', sent);
    if (to - from > sent) this.#count('peerlist coalesced', to - from - sent);
    return sent;
  }

  #trim(n: number): void {
    const base = this.#base + n;
    let behind = 0;
    for (const r of this.#recipients.values()) {
      if (r.cursor >= base) continue;
      behind += 1;
      r.cursor = base;
    }
    this.#events = this.#events.slice(n);
    this.#base = base;
    if (behind > 0) this.#count('peerlist overflow', behind);
  }
}
