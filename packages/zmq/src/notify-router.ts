import { Router, type SocketOptions } from 'zeromq';
import { frameText, identityKey, type Logger, type PeerEvent, type RoutedMessage } from '@vip/protocol';
import { AdmissionPairing, type AdmittedPeer } from './admission-pairing.js';
import type { ZapAdmission } from './zap-contract.js';

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
 * A notification has the same shape as a VIP router probe (PROTOCOL.md 1.3): `NotifiedPeers`
 * keeps per-peer state to make sense of them.
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

interface PeerState extends AdmittedPeer {
  /** peer-connected was emitted for it (and no peer-gone since). */
  announced: boolean;
  /** The admission pins an identity this routing id does not have. */
  mismatch: boolean;
  /** Messages that arrived between the connect notification and the admission (bounded). */
  held: RoutedMessage[] | undefined;
  /** A message came from it since its last `[id, '']`. */
  active: boolean;
}

/** How many messages a connected peer may send before its admission is attached. */
const MAX_HELD_MESSAGES = 64;

export interface NotifiedPeersOptions {
  /** Pair ZAP admissions with connect notifications and route only admitted peers. */
  readonly authenticate: boolean;
  readonly admissionTimeoutMs: number;
  readonly possiblyGoneGraceMs: number;
  readonly possiblyGoneTtlMs: number;
  readonly maxPossiblyGone: number;
  readonly peerEvent: (event: PeerEvent) => void;
  /** Routes a message held until its sender's admission came. */
  readonly message: (message: RoutedMessage, userId: string) => void;
  /** Bumps a drop counter (`unauthenticated`, `identity mismatch`...). */
  readonly drop: (reason: string) => void;
  readonly logger: Logger;
}

/**
 * The routing ids a ZMQ_ROUTER_NOTIFY socket has seen, their admissions (authentication on) and
 * the peer events they make (README "Peer events"): the first `[id, '']` of an unknown id is a
 * connect; a later one is a disconnect or a router probe, so the peer becomes possibly gone and
 * keeps its admission; `peer-gone` at once if it had sent something since its last `[id, '']`
 * (a ZMQ_PROBE_ROUTER probe is the first thing on a connection), else after the grace period of
 * silence; a message proves it alive. Authentication on, an `[id, '']` while possibly gone starts
 * over: the next ZAP admission binds the routing id, never the old one.
 */
export class NotifiedPeers {
  readonly #o: NotifiedPeersOptions;
  readonly #peers = new Map<string, PeerState>();
  readonly #gone: PossiblyGone<PeerState>;
  readonly #pairing: AdmissionPairing | undefined;

  constructor(options: NotifiedPeersOptions) {
    this.#o = options;
    this.#gone = new PossiblyGone<PeerState>({
      graceMs: options.possiblyGoneGraceMs,
      ttlMs: options.possiblyGoneTtlMs,
      max: options.maxPossiblyGone,
      silent: (peer) => this.#announceGone(peer),
      expired: (peer) => this.#forget(peer),
    });
    if (options.authenticate) {
      this.#pairing = new AdmissionPairing({
        timeoutMs: options.admissionTimeoutMs,
        attached: (peer, admission) => this.#attached(peer as PeerState, admission),
        expired: (peer) => this.#release(peer as PeerState),
        count: options.drop,
      });
    }
  }

  get connected(): number {
    return this.#peers.size - this.#gone.size;
  }

  get possiblyGone(): number {
    return this.#gone.size;
  }

  /** AdmissionSink side: a ZAP admission to pair with a connect notification. */
  admitted(admission: ZapAdmission): Promise<void> {
    return this.#pairing?.admitted(admission) ?? Promise.resolve();
  }

  /** The user id of a known peer (possibly gone included), or undefined when it has none. */
  userFor(key: string): string | undefined {
    const peer = this.#peers.get(key);
    if (peer === undefined) return undefined;
    if (!this.#o.authenticate) return frameText(peer.id);
    return peer.mismatch ? undefined : peer.admission?.userId;
  }

  capabilitiesFor(key: string): ZapAdmission['capabilities'] {
    const peer = this.#peers.get(key);
    return peer === undefined || peer.mismatch ? undefined : peer.admission?.capabilities;
  }

  /**
   * A routable message arrived: the user id to route it with, or undefined when it was held
   * (admission pending) or dropped and counted.
   */
  userOf(message: RoutedMessage): string | undefined {
    const key = identityKey(message.sender);
    const peer = this.#peers.get(key);
    if (peer !== undefined) {
      peer.active = true;
      if (this.#gone.size > 0 && this.#gone.clear(key)) this.#alive(peer);
    }
    if (!this.#o.authenticate) {
      if (peer === undefined) this.#connected(key, message.sender);
      return frameText(message.sender);
    }
    if (peer?.admission === undefined) {
      this.#hold(peer, message);
      return undefined;
    }
    if (peer.mismatch) {
      this.#o.drop('identity mismatch');
      return undefined;
    }
    return peer.admission.userId;
  }

  /** `[id, '']`: a connect or disconnect notification, or a router probe. */
  notified(id: Buffer): void {
    const key = identityKey(id);
    const peer = this.#peers.get(key);
    if (peer === undefined) {
      this.#connected(key, id);
      return;
    }
    if (!this.#gone.has(key)) {
      const active = peer.active;
      peer.active = false;
      if (active) this.#announceGone(peer);
      this.#gone.mark(key, peer, active);
      return;
    }
    if (this.#pairing === undefined) {
      this.#gone.mark(key, peer, !peer.announced);
      return;
    }
    this.#forget(peer);
    this.#connected(key, id);
  }

  /** Releases the timers; no events. Idempotent. */
  close(): void {
    this.#pairing?.close();
    this.#gone.close();
    this.#peers.clear();
  }

  #connected(key: string, id: Buffer): void {
    const peer: PeerState = { id, admission: undefined, announced: false, mismatch: false, held: undefined, active: false };
    this.#peers.set(key, peer);
    if (this.#pairing !== undefined) {
      this.#pairing.connected(peer);
      return;
    }
    peer.announced = true;
    this.#o.peerEvent({ type: 'peer-connected', peer: id, user: frameText(id) });
  }

  /** A possibly-gone peer sent a message: announce it again if the router was told it is gone. */
  #alive(peer: PeerState): void {
    if (peer.announced) return;
    let user: string;
    if (!this.#o.authenticate) user = frameText(peer.id);
    else if (peer.admission !== undefined && !peer.mismatch) user = peer.admission.userId;
    else return;
    peer.announced = true;
    this.#o.peerEvent({ type: 'peer-connected', peer: peer.id, user });
  }

  #announceGone(peer: PeerState): void {
    if (!peer.announced) return;
    peer.announced = false;
    this.#o.peerEvent({ type: 'peer-gone', peer: peer.id, reason: 'closed' });
  }

  /** Drops everything known about `peer`: state, admission, held messages. */
  #forget(peer: PeerState): void {
    const key = identityKey(peer.id);
    if (this.#peers.get(key) === peer) {
      this.#peers.delete(key);
      this.#gone.clear(key);
    }
    this.#pairing?.disconnected(peer);
    this.#release(peer);
    this.#announceGone(peer);
  }

  #attached(peer: PeerState, admission: ZapAdmission): void {
    if (admission.identity !== undefined && admission.identity !== frameText(peer.id)) {
      peer.mismatch = true;
      this.#o.drop('identity mismatch at admission');
      this.#release(peer);
      this.#o.logger.warn('router.admission.identity_mismatch', { identity: frameText(peer.id), expected: admission.identity, user: admission.userId });
      return;
    }
    const key = identityKey(peer.id);
    if (this.#peers.get(key) !== peer) return;
    peer.announced = true;
    this.#o.peerEvent({ type: 'peer-connected', peer: peer.id, user: admission.userId });
    // Connect, then probe or disconnect, then the admission: registered as a probe would be,
    // reported gone if it stays silent.
    if (this.#gone.has(key)) this.#gone.mark(key, peer, false);
    const held = peer.held;
    peer.held = undefined;
    if (held !== undefined) for (const m of held) this.#o.message(m, admission.userId);
  }

  /**
   * A message from a peer with no admission. When the peer's connect notification is still waiting
   * for its admission (the two race, see AdmissionPairing), keep a few messages until it arrives;
   * anything else is dropped and counted.
   */
  #hold(peer: PeerState | undefined, message: RoutedMessage): void {
    if (peer === undefined || !this.#pairing?.isWaiting(peer)) return this.#o.drop('unauthenticated');
    peer.held ??= [];
    if (peer.held.length >= MAX_HELD_MESSAGES) return this.#o.drop('unauthenticated');
    peer.held.push(message);
  }

  /** No admission came for a connected peer (or it is forgotten): drop what it sent meanwhile. */
  #release(peer: PeerState): void {
    for (let i = 0; i < (peer.held?.length ?? 0); i++) this.#o.drop('unauthenticated');
    peer.held = undefined;
  }
}
