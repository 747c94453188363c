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
