import { describe, expect, it } from 'vitest';
import { FrameCache } from '../../src/internal/frame-cache.js';

describe('FrameCache', () => {
  it('makes a frame once per key and reuses it', () => {
    let made = 0;
    const cache = new FrameCache((k) => (made++, Buffer.from(k)));
    const a = cache.get('a');
    expect(cache.get('a')).toBe(a);
    expect(made).toBe(1);
    expect(cache.get('b').toString()).toBe('b');
    expect(made).toBe(2);
  });

  it('starts over when full, so memory stays bounded', () => {
    let made = 0;
    const cache = new FrameCache((k) => (made++, Buffer.from(k)), 2);
    const a = cache.get('a');
    cache.get('b');
    cache.get('c'); // full: forgets a and b
    expect(cache.get('a')).not.toBe(a);
    expect(made).toBe(4);
  });
});
