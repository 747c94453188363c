import { Router, type SocketOptions } from 'zeromq';

/** libzmq draft socket option ZMQ_ROUTER_NOTIFY and its flags (zmq_draft.h). */
const ZMQ_ROUTER_NOTIFY = 97;
const ZMQ_NOTIFY_CONNECT = 1;
const ZMQ_NOTIFY_DISCONNECT = 2;

/**
 * A ROUTER socket with ZMQ_ROUTER_NOTIFY on (connect and disconnect). libzmq then queues
 * `[routingId, '']` when a peer's handshake completes and again when it goes away.
 * zeromq.js has no named option for it; the protected `setInt32Option` reaches it
 * (the prebuilt libzmq 4.3.5 in zeromq 6.8 has draft options on).
 *
 * A notification has the same shape as a VIP router probe (PROTOCOL.md 1.3): the transport keeps
 * per-peer state to tell connect from disconnect (see `ZmqRouterTransport`).
 */
export class NotifyingRouter extends Router {
  constructor(options?: SocketOptions<Router>) {
    super(options);
    this.setInt32Option(ZMQ_ROUTER_NOTIFY, ZMQ_NOTIFY_CONNECT | ZMQ_NOTIFY_DISCONNECT);
  }
}

export interface PossiblyGoneOptions<P> {
  /** A marked peer silent this long is reported once through `silent` (tell the router it is gone). */
  readonly graceMs: number;
  /** A marked peer silent this long is forgotten through `expired` (its admission with it). */
  readonly ttlMs: number;
  /** At most this many marked peers; marking one more forgets the oldest through `expired`. */
  readonly max: number;
  readonly silent: (peer: P) => void;
  readonly expired: (peer: P) => void;
  /** Clock in ms; default `Date.now`. */
  readonly now?: () => number;
}

interface Marked<P> {
  readonly peer: P;
  readonly since: number;
  reported: boolean;
}

/**
 * The routing ids whose last ZMQ_ROUTER_NOTIFY-shaped `[id, '']` may have been a disconnect or a
 * router probe (PROTOCOL.md 1.3). A marked peer keeps its state (admission included) until it
 * proves alive (`clear`), is replaced, stays silent past `ttlMs`, or is pushed out by `max`:
 * memory stays bounded however many peers vanish. One timer, running only while something is
 * marked; `close()` releases it. Entries are kept in marking order, so a sweep stops at the
 * first one that is still young.
 */
export class PossiblyGone<P> {
  readonly #options: PossiblyGoneOptions<P>;
  readonly #now: () => number;
  readonly #marked = new Map<string, Marked<P>>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: PossiblyGoneOptions<P>) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#marked.size;
  }

  has(key: string): boolean {
    return this.#marked.has(key);
  }

  /** Marks (or marks again, restarting its clock) `peer`; `reported`: the router was already told it is gone. */
  mark(key: string, peer: P, reported: boolean): void {
    if (this.#closed) return;
    this.#marked.delete(key);
    this.#marked.set(key, { peer, since: this.#now(), reported });
    while (this.#marked.size > this.#options.max) {
      const [oldest, entry] = this.#marked.entries().next().value as [string, Marked<P>];
      this.#marked.delete(oldest);
      this.#options.expired(entry.peer);
    }
    this.#timer ??= setInterval(() => this.#sweep(), Math.max(10, Math.min(this.#options.graceMs, this.#options.ttlMs) / 2)).unref();
  }

  /** Unmarks `key`; true when it was marked. */
  clear(key: string): boolean {
    if (!this.#marked.delete(key)) return false;
    if (this.#marked.size === 0) this.#stop();
    return true;
  }

  /** Forgets every mark without callbacks and releases the timer. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#marked.clear();
    this.#stop();
  }

  #sweep(): void {
    const now = this.#now();
    for (const [key, entry] of this.#marked) {
      const age = now - entry.since;
      if (age < this.#options.graceMs && age < this.#options.ttlMs) break;
      if (age >= this.#options.ttlMs) {
        this.#marked.delete(key);
        this.#options.expired(entry.peer);
      } else if (!entry.reported) {
        entry.reported = true;
        this.#options.silent(entry.peer);
      }
    }
    if (this.#marked.size === 0) this.#stop();
  }

  #stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
