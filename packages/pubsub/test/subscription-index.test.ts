import { describe, expect, it } from 'vitest';
import { SubscriptionIndex, type SubscriptionPlatform } from '../src/subscription-index.js';

/** Deterministic PRNG (mulberry32) so a failure reproduces from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = ['a', 'b', '/', 'é', 'x'];
const word = (r: () => number, max: number): string => {
  const n = Math.floor(r() * (max + 1));
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(r() * ALPHABET.length)];
  return s;
};

/** The reference: VOLTTRON's dict of sets and `startswith`. */
class Reference {
  readonly subs = new Map<string, Set<string>>(); // key platform|bus|prefix -> peers
  add(peer: string, platform: SubscriptionPlatform, bus: string, prefix: string): void {
    const k = JSON.stringify([platform, bus, prefix]);
    let s = this.subs.get(k);
    if (!s) this.subs.set(k, (s = new Set()));
    s.add(peer);
  }
  remove(peer: string, platform: SubscriptionPlatform, bus: string, prefix: string): void {
    const k = JSON.stringify([platform, bus, prefix]);
    const s = this.subs.get(k);
    s?.delete(peer);
    if (s && s.size === 0) this.subs.delete(k);
  }
  drop(peer: string): void {
    for (const [k, s] of [...this.subs]) {
      s.delete(peer);
      if (s.size === 0) this.subs.delete(k);
    }
  }
  match(bus: string, topic: string): string[] {
    const out = new Set<string>();
    for (const [k, s] of this.subs) {
      const [, b, prefix] = JSON.parse(k) as [string, string, string];
      if (b === bus && Buffer.from(topic).toString('latin1').startsWith(Buffer.from(prefix).toString('latin1')))
        for (const p of s) out.add(p);
    }
    return [...out].sort();
  }
  list(platform: SubscriptionPlatform, bus: string | null, prefix: string, reverse: boolean, peer: string): string[] {
    const rows: string[] = [];
    for (const [k, s] of this.subs) {
      const [pl, b, p] = JSON.parse(k) as [string, string, string];
      if (pl !== platform || (bus !== null && b !== bus)) continue;
      const hit = reverse ? prefix.startsWith(p) : p.startsWith(prefix);
      if (hit) rows.push(JSON.stringify([b, p, s.has(peer)]));
    }
    return rows.sort();
  }
}

describe('SubscriptionIndex', () => {
  it('matches like a brute-force startswith over random operations (property test)', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const r = rng(seed);
      const index = new SubscriptionIndex();
      const ref = new Reference();
      const peers = ['p0', 'p1', 'p2', 'p3'];
      const buses = ['', 'b'];
      for (let step = 0; step < 300; step++) {
        const peer = peers[Math.floor(r() * peers.length)] as string;
        const platform: SubscriptionPlatform = r() < 0.5 ? 'internal' : 'all';
        const bus = buses[Math.floor(r() * buses.length)] as string;
        const prefix = word(r, 4);
        const roll = r();
        if (roll < 0.5) {
          index.add(peer, platform, bus, Buffer.from(prefix));
          ref.add(peer, platform, bus, prefix);
        } else if (roll < 0.8) {
          index.remove(peer, platform, bus, Buffer.from(prefix));
          ref.remove(peer, platform, bus, prefix);
        } else if (roll < 0.83) {
          index.dropPeer(peer);
          ref.drop(peer);
        }
        const topic = word(r, 7);
        const got = [...index.match(bus, Buffer.from(topic))].sort();
        expect(got, `seed ${seed} step ${step} topic ${topic}`).toEqual(ref.match(bus, topic));
        if (step % 25 === 0) {
          const q = word(r, 3);
          const rev = r() < 0.5;
          const b = r() < 0.3 ? null : bus;
          const rows = index
            .list(platform, b, Buffer.from(q), rev, peer)
            .map((x) => JSON.stringify([x.bus, x.prefix.toString('utf8'), x.member]));
          expect(rows.sort(), `seed ${seed} list`).toEqual(ref.list(platform, b, q, rev, peer));
        }
      }
      let expected = 0;
      for (const s of ref.subs.values()) expected += s.size;
      expect(index.size).toBe(expected);
      for (const p of peers) index.dropPeer(p);
      expect(index.size).toBe(0);
      expect(index.nodeCount).toBe(0);
    }
  });

  it('matches the empty prefix against every topic and reports a peer once', () => {
    const index = new SubscriptionIndex();
    index.add('a', 'internal', '', Buffer.from(''));
    index.add('a', 'all', '', Buffer.from('t'));
    index.add('a', 'internal', '', Buffer.from('t/x'));
    index.add('b', 'all', '', Buffer.from('t/x'));
    expect([...index.match('', Buffer.from('t/x/y'))].sort()).toEqual(['a', 'b']);
    expect([...index.match('', Buffer.from('zzz'))]).toEqual(['a']);
    expect([...index.match('other', Buffer.from('t/x'))]).toEqual([]);
  });

  it('replace() leaves exactly the wanted set and reports changed platforms', () => {
    const index = new SubscriptionIndex();
    index.add('a', 'internal', '', Buffer.from('x'));
    index.add('a', 'all', '', Buffer.from('y'));
    const changed = index.replace('a', [
      { platform: 'internal', bus: '', prefix: Buffer.from('x') },
      { platform: 'internal', bus: 'b', prefix: Buffer.from('z') },
    ]);
    expect([...changed].sort()).toEqual(['all', 'internal']);
    expect(
      index
        .subscriptionsOf('a')
        .map((s) => `${s.platform}:${s.bus}:${s.prefix.toString()}`)
        .sort(),
    ).toEqual(['internal::x', 'internal:b:z']);
    expect(index.prefixes('all')).toEqual([]);
  });

  it('publish cost does not depend on the number of unrelated subscriptions', () => {
    // Counted in trie steps rather than time: the walk visits at most topic.length + 1 nodes.
    const index = new SubscriptionIndex();
    for (let i = 0; i < 10_000; i++) index.add(`peer${i % 50}`, 'internal', '', Buffer.from(`devices/building${i}/point`));
    const topic = Buffer.from('devices/other/point');
    expect(index.match('', topic).size).toBe(0);
    index.add('s', 'internal', '', Buffer.from('devices/other'));
    expect([...index.match('', topic)]).toEqual(['s']);
    for (let i = 0; i < 50; i++) index.dropPeer(`peer${i}`);
    index.dropPeer('s');
    expect(index.nodeCount).toBe(0);
  });
});

describe('SubscriptionIndex.prefixCounts', () => {
  it('counts each peer once per (bus, prefix) across platforms, most subscribed first, bounded', () => {
    const index = new SubscriptionIndex();
    const f = (s: string) => Buffer.from(s);
    index.add('a', 'internal', 'pubsub', f('devices/'));
    index.add('a', 'all', 'pubsub', f('devices/')); // same peer, other platform: one subscriber
    index.add('b', 'internal', 'pubsub', f('devices/'));
    index.add('b', 'internal', 'pubsub', f('alerts/'));
    index.add('c', 'internal', 'other', f('devices/'));
    const { rows, omitted } = index.prefixCounts(2);
    expect(rows.map((r) => [r.bus, r.prefix.toString(), r.subscribers])).toEqual([
      ['pubsub', 'devices/', 2],
      ['pubsub', 'alerts/', 1],
    ]);
    expect(omitted).toBe(1);
    expect(index.prefixCounts(10).rows).toHaveLength(3);
  });
});
