import {
  ClosedError,
  EMPTY_FRAME,
  identityKey,
  PEERLIST_ERRORS,
  PEERLIST_FRAME,
  peerlistError,
  peerlistListing,
  type Frame,
  type RoutedMessage,
  type RouterExtension,
  type RouterServices,
} from '@vip/protocol';
import { PeerlistOutbox, type PeerlistOutboxOptions } from '../peerlist-outbox.js';

/** The outbox's pacing, for tests. */
export type PeerlistPacing = Pick<PeerlistOutboxOptions, 'batch' | 'perSecond' | 'maxEvents' | 'defer' | 'now'>;

/**
 * The `peerlist` subsystem (docs/protocol.md 2.3): `list` -> `listing, peers...`, a missing or
 * other op -> `error, <why>`, empty user; and the peer events: every known peer is told
 * `peerlist add|drop <peer>` at low priority, through the paced, coalescing PeerlistOutbox (a
 * newcomer is not told of itself and hears only of later events). The RabbitMQ router takes
 * `peerlist` over (`RmqPeerlistExtension` in @vip/rmq), events included.
 */
export class PeerlistExtension implements RouterExtension {
  readonly subsystems = ['peerlist'] as const;
  readonly #pacing: PeerlistPacing;
  #services: RouterServices | undefined;
  #outbox: PeerlistOutbox | undefined;

  constructor(pacing: PeerlistPacing = {}) {
    this.#pacing = pacing;
  }

  /** Peer events not yet sent to every peer that should hear of them (router `stats().peerlistBacklog`). */
  get backlog(): number {
    return this.#outbox?.backlog ?? 0;
  }

  attach(services: RouterServices): void {
    this.#services = services;
    this.#outbox = new PeerlistOutbox({
      ...this.#pacing,
      deliver: (to, args) => services.deliver(to, EMPTY_FRAME, EMPTY_FRAME, EMPTY_FRAME, PEERLIST_FRAME, args),
      count: (name, n) => services.count(name, n),
    });
  }

  handle(m: RoutedMessage): boolean {
    const services = this.#services;
    if (services === undefined) throw new ClosedError('PeerlistExtension (not attached to a router)');
    const op = m.args[0];
    let answer: readonly Frame[];
    if (op === undefined) answer = peerlistError(PEERLIST_ERRORS.MISSING);
    else if (identityKey(op) === 'list') answer = peerlistListing(services.peers());
    else answer = peerlistError(PEERLIST_ERRORS.UNKNOWN);
    void services.deliver(m.sender, EMPTY_FRAME, EMPTY_FRAME, m.id, m.subsystem, answer);
    return true;
  }

  /** Everyone known hears `peerlist add <peer>`; then the newcomer joins the recipients. */
  peerAdded(peer: Frame): void {
    this.#outbox?.publish(true, peer);
    this.#outbox?.join(peer);
  }

  /** The peer hears nothing more; everyone left hears `peerlist drop <peer>`. */
  peerDropped(peer: Frame): void {
    this.#outbox?.leave(peer);
    this.#outbox?.publish(false, peer);
  }

  settled(): Promise<void> | undefined {
    return this.#outbox !== undefined && this.#outbox.backlog > 0 ? this.#outbox.drained() : undefined;
  }

  close(): Promise<void> {
    this.#outbox?.close();
    return Promise.resolve();
  }
}
