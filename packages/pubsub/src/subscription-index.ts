import type { Frame } from '@vip/protocol';

/** `internal` = local only; `all` = local and remote platforms (docs/protocol.md 3.1). */
export type SubscriptionPlatform = 'internal' | 'all';

export interface Subscription {
  readonly platform: SubscriptionPlatform;
  readonly bus: string;
  /** Prefix bytes (UTF-8 of the prefix string a peer subscribed with). */
  readonly prefix: Frame;
}

/** How many peers hold a prefix on a bus (either platform). */
export interface PrefixCount {
  readonly bus: string;
  readonly prefix: Frame;
  readonly subscribers: number;
}

export interface SubscriptionRow {
  readonly bus: string;
  readonly prefix: Frame;
  readonly member: boolean;
}

interface TrieNode {
  readonly parent: TrieNode | undefined;
  readonly byte: number;
  readonly depth: number;
  children: Map<number, TrieNode> | undefined;
  internal: Set<string> | undefined;
  all: Set<string> | undefined;
}

interface Entry extends Subscription {
  readonly node: TrieNode;
}

const newNode = (parent: TrieNode | undefined, byte: number): TrieNode => ({
  parent,
  byte,
  depth: parent ? parent.depth + 1 : 0,
  children: undefined,
  internal: undefined,
  all: undefined,
});

/**
 * VOLTTRON's character-prefix subscriptions (`topic.startswith(prefix)`) as one byte trie per bus.
 * `match` walks the topic once: its cost depends on the topic length and the number of matching
 * subscribers, never on how many subscriptions exist. Peers are `identityKey` strings.
 * Each subscriber is reported once per match even when it holds several matching prefixes on
 * both platforms (fixes quirk 12.10).
 */
export class SubscriptionIndex {
  readonly #buses = new Map<string, TrieNode>();
  readonly #byPeer = new Map<string, Map<string, Entry>>();
  #size = 0;
  #nodes = 0;

  /** Number of (peer, platform, bus, prefix) subscriptions. */
  get size(): number {
    return this.#size;
  }

  /** Trie nodes held (memory indicator). */
  get nodeCount(): number {
    return this.#nodes;
  }

  /** Peers holding at least one subscription. */
  get peerCount(): number {
    return this.#byPeer.size;
  }

  /** Add; false when the peer already held this subscription. */
  add(peer: string, platform: SubscriptionPlatform, bus: string, prefix: Frame): boolean {
    const key = entryKey(platform, bus, prefix);
    let mine = this.#byPeer.get(peer);
    if (mine?.has(key)) return false;
    const node = this.#descend(bus, prefix, true) as TrieNode;
    const set = (node[platform] ??= new Set());
    set.add(peer);
    if (!mine) this.#byPeer.set(peer, (mine = new Map()));
    mine.set(key, { platform, bus, prefix, node });
    this.#size++;
    return true;
  }

  /** Remove one subscription; false when the peer did not hold it. */
  remove(peer: string, platform: SubscriptionPlatform, bus: string, prefix: Frame): boolean {
    const mine = this.#byPeer.get(peer);
    const key = entryKey(platform, bus, prefix);
    const entry = mine?.get(key);
    if (!mine || !entry) return false;
    this.#detach(peer, entry);
    mine.delete(key);
    if (mine.size === 0) this.#byPeer.delete(peer);
    return true;
  }

  /** Remove every prefix the peer holds on one platform and bus (`unsubscribe` with `prefix: null`). */
  removeBus(peer: string, platform: SubscriptionPlatform, bus: string): number {
    let n = 0;
    for (const s of this.subscriptionsOf(peer)) {
      if (s.platform === platform && s.bus === bus && this.remove(peer, platform, bus, s.prefix)) n++;
    }
    return n;
  }

  /** Remove all of a peer's subscriptions; returns how many were removed. */
  dropPeer(peer: string): number {
    const mine = this.#byPeer.get(peer);
    if (!mine) return 0;
    for (const entry of mine.values()) this.#detach(peer, entry);
    this.#byPeer.delete(peer);
    return mine.size;
  }

  /**
   * Make the peer's subscriptions exactly `wanted` (synchronize, docs/protocol.md 3.4).
   * Returns the platforms whose subscriptions changed.
   */
  replace(peer: string, wanted: Iterable<Subscription>): Set<SubscriptionPlatform> {
    const changed = new Set<SubscriptionPlatform>();
    const want = new Map<string, Subscription>();
    for (const s of wanted) want.set(entryKey(s.platform, s.bus, s.prefix), s);
    for (const s of this.subscriptionsOf(peer)) {
      if (!want.has(entryKey(s.platform, s.bus, s.prefix)) && this.remove(peer, s.platform, s.bus, s.prefix)) changed.add(s.platform);
    }
    for (const s of want.values()) if (this.add(peer, s.platform, s.bus, s.prefix)) changed.add(s.platform);
    return changed;
  }

  /** True when `peer` holds at least one subscription. */
  hasPeer(peer: string): boolean {
    return this.#byPeer.has(peer);
  }

  /** Every peer holding at least one subscription. */
  peers(): IterableIterator<string> {
    return this.#byPeer.keys();
  }

  subscriptionsOf(peer: string): Subscription[] {
    const mine = this.#byPeer.get(peer);
    return mine ? [...mine.values()].map(({ platform, bus, prefix }) => ({ platform, bus, prefix })) : [];
  }

  /**
   * Every peer subscribed on `bus` (either platform, or only `platform` when given) to a prefix of
   * `topic`, each once, added to `out`.
   */
  match(bus: string, topic: Frame, out: Set<string> = new Set(), platform?: SubscriptionPlatform): Set<string> {
    let node = this.#buses.get(bus);
    let i = 0;
    while (node) {
      if (platform !== 'all' && node.internal) for (const p of node.internal) out.add(p);
      if (platform !== 'internal' && node.all) for (const p of node.all) out.add(p);
      if (i === topic.length || !node.children) break;
      node = node.children.get(topic[i++] as number);
    }
    return out;
  }

  /**
   * Stored prefixes on `platform` (all buses when `bus` is null): those starting with `prefix`, or
   * with `reverse` those that are prefixes of `prefix` (docs/protocol.md 3.5). `member` tells whether
   * `peer` holds the row.
   */
  list(platform: SubscriptionPlatform, bus: string | null, prefix: Frame, reverse: boolean, peer: string): SubscriptionRow[] {
    const rows: SubscriptionRow[] = [];
    const buses = bus === null ? [...this.#buses.keys()] : [bus];
    for (const b of buses) {
      const root = this.#buses.get(b);
      if (!root) continue;
      const emit = (node: TrieNode): void => {
        const set = node[platform];
        if (set && set.size > 0) rows.push({ bus: b, prefix: pathOf(node), member: set.has(peer) });
      };
      if (reverse) {
        let node: TrieNode | undefined = root;
        let i = 0;
        while (node) {
          emit(node);
          if (i === prefix.length || !node.children) break;
          node = node.children.get(prefix[i++] as number);
        }
      } else {
        const start = this.#descend(b, prefix, false);
        if (!start) continue;
        const stack: TrieNode[] = [start];
        while (stack.length > 0) {
          const node = stack.pop() as TrieNode;
          emit(node);
          if (node.children) for (const c of node.children.values()) stack.push(c);
        }
      }
    }
    return rows;
  }

  /**
   * Subscribers per (bus, prefix), either platform, most subscribed first: at most `limit` rows
   * and how many were left out (the status page). Walks every subscription: call it seldom.
   */
  prefixCounts(limit: number): { rows: PrefixCount[]; omitted: number } {
    const counts = new Map<string, { bus: string; prefix: Frame; subscribers: number; peers: Set<string> }>();
    for (const [peer, mine] of this.#byPeer) {
      for (const e of mine.values()) {
        const key = `${e.bus}\u0000${e.prefix.toString('latin1')}`;
        let row = counts.get(key);
        if (!row) counts.set(key, (row = { bus: e.bus, prefix: e.prefix, subscribers: 0, peers: new Set() }));
        if (!row.peers.has(peer)) {
          row.peers.add(peer);
          row.subscribers++;
        }
      }
    }
    const all = [...counts.values()].sort((a, b) => b.subscribers - a.subscribers || a.prefix.compare(b.prefix));
    return {
      rows: all.slice(0, limit).map(({ bus, prefix, subscribers }) => ({ bus, prefix, subscribers })),
      omitted: Math.max(0, all.length - limit),
    };
  }

  /** Distinct prefixes held on `platform`, over every bus (the `external_list` advertisement). */
  prefixes(platform: SubscriptionPlatform): Frame[] {
    const seen = new Map<string, Frame>();
    for (const mine of this.#byPeer.values()) {
      for (const e of mine.values()) if (e.platform === platform) seen.set(e.prefix.toString('latin1'), e.prefix);
    }
    return [...seen.values()];
  }

  clear(): void {
    this.#buses.clear();
    this.#byPeer.clear();
    this.#size = 0;
    this.#nodes = 0;
  }

  #descend(bus: string, prefix: Frame, create: boolean): TrieNode | undefined {
    let node: TrieNode | undefined = this.#buses.get(bus);
    if (!node) {
      if (!create) return undefined;
      node = newNode(undefined, -1);
      this.#buses.set(bus, node);
      this.#nodes++;
    }
    for (const byte of prefix) {
      let next: TrieNode | undefined = node.children?.get(byte);
      if (!next) {
        if (!create) return undefined;
        next = newNode(node, byte);
        (node.children ??= new Map()).set(byte, next);
        this.#nodes++;
      }
      node = next;
    }
    return node;
  }

  #detach(peer: string, entry: Entry): void {
    const node = entry.node;
    const set = node[entry.platform];
    set?.delete(peer);
    if (set && set.size === 0) node[entry.platform] = undefined;
    this.#size--;
    this.#prune(node, entry.bus);
  }

  /** Free nodes that hold no subscriber and lead to none. */
  #prune(start: TrieNode, bus: string): void {
    let node: TrieNode | undefined = start;
    while (node && !node.internal && !node.all && (!node.children || node.children.size === 0)) {
      const parent: TrieNode | undefined = node.parent;
      if (parent) parent.children?.delete(node.byte);
      else this.#buses.delete(bus);
      this.#nodes--;
      node = parent;
    }
  }
}

function entryKey(platform: SubscriptionPlatform, bus: string, prefix: Frame): string {
  return `${platform}\u0000${bus.length}\u0000${bus}${prefix.toString('latin1')}`;
}

function pathOf(node: TrieNode): Frame {
  const out = Buffer.allocUnsafe(node.depth);
  let n: TrieNode | undefined = node;
  while (n && n.depth > 0) {
    out[n.depth - 1] = n.byte;
    n = n.parent;
  }
  return out;
}
