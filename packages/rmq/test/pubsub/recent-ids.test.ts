import { describe, expect, it } from 'vitest';
import { mayRepeat, RecentIds } from '../../src/pubsub/recent-ids.js';

describe('RecentIds', () => {
  it('remembers the last `capacity` keys and forgets the oldest first', () => {
    const r = new RecentIds(3);
    for (const k of ['a', 'b', 'c']) r.add(k);
    expect(['a', 'b', 'c'].map((k) => r.has(k))).toEqual([true, true, true]);
    r.add('d');
    expect(r.has('a')).toBe(false);
    expect(r.has('d')).toBe(true);
    expect(r.size).toBe(3);
  });

  it('adding a key it holds changes nothing', () => {
    const r = new RecentIds(2);
    r.add('a');
    r.add('a');
    r.add('b');
    expect(r.has('a')).toBe(true);
    expect(r.size).toBe(2);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new RecentIds(0)).toThrow(RangeError);
  });
});

describe('mayRepeat', () => {
  it('a redelivery, or a first delivery that crossed a federation link or a shovel, may repeat one passed on', () => {
    expect(mayRepeat(true, undefined)).toBe(true);
    expect(mayRepeat(false, { 'x-received-from': [{ uri: 'amqp://a', exchange: 'volttron' }] })).toBe(true);
    expect(mayRepeat(false, { 'x-shovelled': [{ 'shovel-name': 's' }] })).toBe(true);
  });

  it('a first delivery published on this broker does not', () => {
    expect(mayRepeat(false, undefined)).toBe(false);
    expect(mayRepeat(false, { platform: 'pa' })).toBe(false);
  });
});
