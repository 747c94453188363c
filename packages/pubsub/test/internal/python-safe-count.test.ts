import { describe, expect, it } from 'vitest';
import { pythonSafeCount } from '../../src/internal/python-safe-count.js';

const bytesOk = (n: number): boolean => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b.every((x) => x < 0x80);
};

describe('pythonSafeCount (quirk 12.4)', () => {
  it('keeps counts whose bytes are all < 0x80 and rounds the others down to the nearest such value', () => {
    expect([0, 1, 127, 256, 300].map(pythonSafeCount)).toEqual([0, 1, 127, 256, 300]);
    expect(pythonSafeCount(128)).toBe(127);
    expect(pythonSafeCount(255)).toBe(127);
    expect(pythonSafeCount(0x180)).toBe(0x17f);
    expect(pythonSafeCount(0x8000)).toBe(0x7f7f);
    expect(pythonSafeCount(0x10080)).toBe(0x1007f);
    expect(pythonSafeCount(0xffffffff)).toBe(0x7f7f7f7f);
  });

  it('is the largest decodable value not above n (exhaustive below 2^17)', () => {
    let best = 0;
    for (let n = 0; n < 1 << 17; n++) {
      if (bytesOk(n)) best = n;
      expect(pythonSafeCount(n)).toBe(best);
    }
  });
});
