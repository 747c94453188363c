import type { Frame } from '@vip/protocol';

/**
 * Result values the way a Python 9.x router encodes them (PROTOCOL.md 1.4): `True` as one byte
 * 0x01, an int as 4 bytes little-endian unsigned. Local until @vip/protocol's frame-values lands.
 */
export const TRUE_FRAME: Frame = Buffer.from([1]);

export function encodeCount(n: number): Frame {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(Math.max(0, Math.min(0xffffffff, Math.trunc(n))), 0);
  return b;
}

/**
 * Quirk 12.4: a Python agent decodes the count frame as Latin-1 text, re-encodes it as UTF-8 and
 * unpacks 4 bytes; any byte >= 0x80 grows the text and `publish().get()` never returns. We send
 * the largest count <= n whose four bytes are all < 0x80 (n itself when that is already true),
 * so Python publishers never hang; the exact count stays in `stats()`.
 */
export function pythonSafeCount(n: number): number {
  let v = Math.max(0, Math.min(0x7f7f7f7f, Math.trunc(n)));
  for (let shift = 24; shift >= 0; shift -= 8) {
    const byte = (v >>> shift) & 0xff;
    if (byte >= 0x80) {
      // clear this byte to 0x7f and every lower byte to 0x7f: the largest value below
      const high = shift === 24 ? 0 : (v >>> (shift + 8)) << (shift + 8);
      const low = shift === 0 ? 0 : (1 << shift) - 1;
      v = (high | (0x7f << shift) | (low & 0x7f7f7f7f)) >>> 0;
      break;
    }
  }
  return v;
}
