/** `(peer, sender, bus, topic, headers, message)`, as VOLTTRON calls pubsub callbacks; peer is always 'pubsub'. */
export type PubSubCallback = (
  peer: string,
  sender: string,
  bus: string,
  topic: string,
  headers: Record<string, unknown>,
  message: unknown,
) => void | Promise<void>;

export type PubSubPlatform = 'internal' | 'all';

/**
 * The agent's own table `platform -> bus -> prefix -> callbacks`: what it sends in `synchronize`
 * and how it dispatches a delivery (every callback of every matching prefix, as VOLTTRON does).
 */
export class LocalSubscriptions {
  readonly #table = new Map<PubSubPlatform, Map<string, Map<string, Set<PubSubCallback>>>>();

  get empty(): boolean {
    return this.#table.size === 0;
  }

  add(platform: PubSubPlatform, bus: string, prefix: string, callback: PubSubCallback): void {
    let buses = this.#table.get(platform);
    if (!buses) this.#table.set(platform, (buses = new Map()));
    let prefixes = buses.get(bus);
    if (!prefixes) buses.set(bus, (prefixes = new Map()));
    let callbacks = prefixes.get(prefix);
    if (!callbacks) prefixes.set(prefix, (callbacks = new Set()));
    callbacks.add(callback);
  }

  has(platform: PubSubPlatform, bus: string, prefix: string): boolean {
    return this.#table.get(platform)?.get(bus)?.has(prefix) ?? false;
  }

  /**
   * Remove `callback` (all when undefined) from `prefixes` (every prefix of the bus when null);
   * returns the prefixes left without callbacks, which the router should forget.
   */
  remove(platform: PubSubPlatform, bus: string, prefixes: readonly string[] | null, callback: PubSubCallback | undefined): string[] {
    const buses = this.#table.get(platform);
    const table = buses?.get(bus);
    if (!buses || !table) return [];
    const dropped: string[] = [];
    for (const prefix of prefixes ?? [...table.keys()]) {
      const callbacks = table.get(prefix);
      if (!callbacks) continue;
      if (callback === undefined) callbacks.clear();
      else callbacks.delete(callback);
      if (callbacks.size === 0) {
        table.delete(prefix);
        dropped.push(prefix);
      }
    }
    if (table.size === 0) buses.delete(bus);
    if (buses.size === 0) this.#table.delete(platform);
    return dropped;
  }

  /** Callbacks for a delivery on `bus`/`topic`, one entry per (platform, prefix, callback) match. */
  match(bus: string, topic: string): PubSubCallback[] {
    const out: PubSubCallback[] = [];
    for (const buses of this.#table.values()) {
      const table = buses.get(bus);
      if (!table) continue;
      for (const [prefix, callbacks] of table) {
        if (topic.startsWith(prefix)) for (const cb of callbacks) out.push(cb);
      }
    }
    return out;
  }

  /** `{platform: {bus: [prefixes]}}` for `synchronize`, every bus kept (VOLTTRON keeps only the last, quirk 12.11). */
  snapshot(): Record<string, Record<string, string[]>> {
    const out: Record<string, Record<string, string[]>> = {};
    for (const [platform, buses] of this.#table) {
      const o: Record<string, string[]> = {};
      for (const [bus, table] of buses) o[bus] = [...table.keys()];
      out[platform] = o;
    }
    return out;
  }

  clear(): void {
    this.#table.clear();
  }
}
