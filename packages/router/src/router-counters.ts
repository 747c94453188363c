import type { CountMap } from './tracker.js';

/** Always-on router counters, as `Router.stats()` reports them. */
export interface RouterStats {
  /** Routable messages received. */
  received: number;
  /** Messages forwarded peer to peer. */
  forwarded: number;
  /** Router-addressed messages handled by the router or an extension. */
  handled: number;
  /** Frame sets dropped, by reason (`too few frames`, `bad VIP signature`, ...). */
  dropped: CountMap;
  /** VIP `error` messages the router sent, by errno. */
  errors: CountMap;
  /** Peers currently known. */
  peers: number;
  /** Peer events (`peerlist add|drop`) not yet sent to every peer that should hear of them. */
  peerlistBacklog: number;
  /** Named counters bumped by the router and its extensions (`RouterServices.count`). */
  counters: CountMap;
  /** Each extension's own counters, by its first subsystem name. */
  extensions: Record<string, CountMap>;
}

/** The mutable counters behind `RouterStats`; plain fields so the hot path is an increment. */
export class RouterCounters {
  received = 0;
  forwarded = 0;
  handled = 0;
  readonly dropped: CountMap = {};
  readonly errors: CountMap = {};
  readonly counters: CountMap = {};

  drop(reason: string): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1;
  }

  error(errnum: number): void {
    const k = String(errnum);
    this.errors[k] = (this.errors[k] ?? 0) + 1;
  }

  count(name: string, n = 1): void {
    this.counters[name] = (this.counters[name] ?? 0) + n;
  }

  /** Total frame sets dropped for any reason. */
  totalDropped(): number {
    let n = 0;
    for (const v of Object.values(this.dropped)) n += v;
    return n;
  }
}
