import { describe, expect, it } from 'vitest';
import { DeliveryStats } from '../src/delivery-stats.js';

describe('DeliveryStats', () => {
  it('keeps per-subscriber drop counts bounded, forgetting the least recently dropping subscriber', () => {
    const s = new DeliveryStats(3);
    for (const peer of ['a', 'b', 'a', 'c', 'd']) s.drop('again', peer);
    expect(s.bySubscriber()).toEqual([
      { peer: 'a', dropped: 2 },
      { peer: 'c', dropped: 1 },
      { peer: 'd', dropped: 1 },
    ]);
    expect(s.dropped.again).toBe(5); // totals are never forgotten
    for (let i = 0; i < 10_000; i++) s.drop('backlog', `churn${i}`);
    expect(s.bySubscriber()).toHaveLength(3);
  });
});
