import { identityKey, type Frame } from '@vip/protocol';

/**
 * The set of peers the router knows (docs/protocol.md 1.10). Identities stay bytes; the map key is
 * `identityKey`, so two different byte strings never collide.
 */
export class PeerRegistry {
  readonly #peers = new Map<string, Frame>();

  get size(): number {
    return this.#peers.size;
  }

  has(identity: Frame): boolean {
    return this.#peers.has(identityKey(identity));
  }

  /** Adds the peer; returns false when it was already known. */
  add(identity: Frame): boolean {
    const key = identityKey(identity);
    if (this.#peers.has(key)) return false;
    this.#peers.set(key, identity);
    return true;
  }

  /** Removes the peer; returns false when it was not known. */
  remove(identity: Frame): boolean {
    return this.#peers.delete(identityKey(identity));
  }

  /** Every known identity, in registration order. */
  list(): Frame[] {
    return [...this.#peers.values()];
  }

  clear(): void {
    this.#peers.clear();
  }
}
