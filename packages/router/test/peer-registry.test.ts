import { describe, expect, it } from 'vitest';
import { PeerRegistry } from '../src/peer-registry.js';

describe('PeerRegistry', () => {
  it('keeps identities as bytes: distinct byte strings never collide', () => {
    const r = new PeerRegistry();
    const utf8 = Buffer.from('caf\u00e9', 'utf8');
    const latin1 = Buffer.from('caf\u00e9', 'latin1');
    const invalid = Buffer.from([0xff, 0xfe]);
    expect(r.add(utf8)).toBe(true);
    expect(r.add(latin1)).toBe(true);
    expect(r.add(invalid)).toBe(true);
    expect(r.add(Buffer.from(utf8))).toBe(false);
    expect(r.size).toBe(3);
    expect(r.list()[2]).toEqual(invalid);
    expect(r.remove(latin1)).toBe(true);
    expect(r.remove(latin1)).toBe(false);
    expect(r.has(utf8)).toBe(true);
  });
});
