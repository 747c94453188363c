import { describe, expect, it } from 'vitest';
import { KeyError } from '../src/errors.js';
import { decodeKey, encodeKey, generateKeyPair, keyToZ85, z85Decode, z85Encode } from '../src/keys.js';
import { seededPrng } from './seeded-prng.js';

const HELLO = Buffer.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);
// A real VOLTTRON key in its canonical form (docs/protocol.md 5.1).
const SAMPLE = 'FSG7LHhy3v8tdNz3gK35G6-oxUcyln54pYRKu5fBJzU';

describe('Z85 (ZeroMQ RFC 32)', () => {
  it('encodes and decodes the RFC test vector', () => {
    expect(z85Encode(HELLO)).toBe('HelloWorld');
    expect(z85Decode('HelloWorld')).toEqual(HELLO);
  });
  it.each([
    ['bad length', () => z85Encode(Buffer.alloc(3))],
    ['bad text length', () => z85Decode('Hell')],
    ['bad character', () => z85Decode('Hell~')],
    ['overflow', () => z85Decode('#####')],
  ])('rejects %s with KeyError', (_name, fn) => {
    expect(fn).toThrow(KeyError);
  });
});

describe('decodeKey', () => {
  const raw = Buffer.from(SAMPLE, 'base64url');
  const z85 = z85Encode(raw);
  const cases: Array<[string, string]> = [
    ['40 Z85', z85],
    ['43 base64url', SAMPLE],
    ['44 padded base64url', SAMPLE + '='],
    ['54 base64url of Z85', Buffer.from(z85, 'latin1').toString('base64url')],
    ['56 padded base64url of Z85', Buffer.from(z85, 'latin1').toString('base64url') + '=='],
    ['44 standard base64', raw.toString('base64')],
    ['64 hex', raw.toString('hex')],
    ['64 upper-case hex', raw.toString('hex').toUpperCase()],
    ['80 hex of Z85', Buffer.from(z85, 'latin1').toString('hex')],
  ];
  it.each(cases)('accepts %s', (_name, text) => {
    expect(decodeKey(text)).toEqual(raw);
  });
  it('has a 32-byte sample', () => {
    expect(raw.length).toBe(32);
    expect(cases.map(([, t]) => t.length)).toEqual([40, 43, 44, 54, 56, 44, 64, 64, 80]);
  });
  it.each([
    ['empty', ''],
    ['41 chars', 'a'.repeat(41)],
    ['43 chars with a bad character', SAMPLE.slice(0, 42) + '!'],
    ['64 chars not hex', 'g'.repeat(64)],
    ['40 chars not Z85', '~'.repeat(40)],
    ['80 hex that is not Z85', 'ff'.repeat(40)],
  ])('rejects %s with a KeyError naming the problem', (_name, text) => {
    expect(() => decodeKey(text)).toThrow(KeyError);
  });
  it('names the accepted lengths in its message', () => {
    expect(() => decodeKey('abc')).toThrow(/40 \(Z85\).*got 3/);
  });
});

describe('encodeKey / keyToZ85', () => {
  it('renders raw, Z85 text, Z85 bytes and any decodable text as 43-char base64url', () => {
    const raw = decodeKey(SAMPLE);
    const z85 = keyToZ85(SAMPLE);
    expect(z85).toHaveLength(40);
    expect(encodeKey(raw)).toBe(SAMPLE);
    expect(encodeKey(z85)).toBe(SAMPLE);
    expect(encodeKey(Buffer.from(z85, 'latin1'))).toBe(SAMPLE);
    expect(encodeKey(raw.toString('hex'))).toBe(SAMPLE);
    expect(keyToZ85(raw)).toBe(z85);
  });
  it('rejects a binary key of the wrong size', () => {
    expect(() => encodeKey(Buffer.alloc(31))).toThrow(KeyError);
  });
  it('round-trips thousands of random keys through every encoding', () => {
    const rng = seededPrng(0x5eed);
    for (let i = 0; i < 2000; i++) {
      const raw = rng.bytes(32);
      const z85 = z85Encode(raw);
      const b64 = encodeKey(raw);
      expect(b64).toHaveLength(43);
      expect(z85Decode(z85)).toEqual(raw);
      expect(decodeKey(b64)).toEqual(raw);
      expect(decodeKey(z85)).toEqual(raw);
      expect(decodeKey(raw.toString('hex'))).toEqual(raw);
      expect(decodeKey(Buffer.from(z85, 'latin1').toString('base64url'))).toEqual(raw);
      expect(decodeKey(Buffer.from(z85, 'latin1').toString('hex'))).toEqual(raw);
      expect(keyToZ85(b64)).toBe(z85);
    }
  });
});

describe('generateKeyPair', () => {
  it('returns distinct 43-char base64url keys that never start with "-"', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const kp = generateKeyPair();
      expect(kp.public).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{42}$/);
      expect(kp.secret).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{42}$/);
      expect(decodeKey(kp.public)).toHaveLength(32);
      seen.add(kp.public);
    }
    expect(seen.size).toBe(50);
  });
});
