/** A small seeded PRNG (mulberry32) for property-style tests: same seed, same cases. */
export interface Prng {
  next(): number;
  int(maxExclusive: number): number;
  bytes(length: number): Buffer;
  pick<T>(items: readonly T[]): T;
}

export function seededPrng(seed: number): Prng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (maxExclusive: number): number => Math.floor(next() * maxExclusive);
  return {
    next,
    int,
    bytes: (length) => Buffer.from(Array.from({ length }, () => int(256))),
    pick: <T>(items: readonly T[]): T => items[int(items.length)] as T,
  };
}

/** Random text mixing ASCII, Latin-1, BMP and astral characters (`keyPrefix` keeps object keys non-numeric). */
export function randomText(rng: Prng, maxLength = 8, keyPrefix = ''): string {
  const chars = Array.from({ length: rng.int(maxLength) }, () =>
    String.fromCodePoint(rng.pick([rng.int(0x80), rng.int(0x100), rng.int(0xd800), 0x10000 + rng.int(0x1000)])),
  );
  return keyPrefix + chars.join('');
}

/** A random JSON value (strings, numbers, booleans, null, arrays, objects), depth-bounded. */
export function randomJson(rng: Prng, depth = 0, keyPrefix = ''): unknown {
  const kind = depth > 3 ? rng.int(4) : rng.int(6);
  if (kind === 0 || kind === 3) return randomText(rng);
  if (kind === 1) return rng.pick([rng.int(1e6) - 5e5, (rng.next() - 0.5) * 10 ** (rng.int(40) - 20), 0]);
  if (kind === 2) return rng.pick([true, false, null]);
  if (kind === 4) return Array.from({ length: rng.int(4) }, () => randomJson(rng, depth + 1, keyPrefix));
  return Object.fromEntries(
    Array.from({ length: rng.int(4) }, () => [randomText(rng, 8, keyPrefix), randomJson(rng, depth + 1, keyPrefix)]),
  );
}
