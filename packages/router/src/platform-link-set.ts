import type { PlatformLinks } from '@vip/protocol';

/**
 * A mutable `PlatformLinks`: the routing service adds a link's proven user when the link is up
 * and removes it when it goes. Empty until then.
 */
export class PlatformLinkSet implements PlatformLinks {
  readonly #users = new Set<string>();

  has(userId: string): boolean {
    return this.#users.has(userId);
  }

  add(userId: string): void {
    if (userId.length > 0) this.#users.add(userId);
  }

  delete(userId: string): boolean {
    return this.#users.delete(userId);
  }

  get size(): number {
    return this.#users.size;
  }
}
