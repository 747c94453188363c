/**
 * Quirk 12.4: a Python agent decodes the count frame as Latin-1 text, re-encodes it as UTF-8 and
 * unpacks 4 bytes; any byte >= 0x80 grows the text and `publish().get()` never returns. We send
 * the largest count <= n whose four bytes are all < 0x80 (n itself when that is already true),
 * so Python publishers never hang; the exact count stays in the service's stats.
 */
export function pythonSafeCount(n: number): number {
  let v = Math.max(0, Math.min(0x7f7f7f7f, Math.trunc(n)));
  for (let shift = 24; shift >= 0; shift -= 8) {
    if (((v >>> shift) & 0xff) >= 0x80) {
      // this byte becomes 0x7f and every lower byte 0x7f: the largest such value below v
      const high = shift === 24 ? 0 : (v >>> (shift + 8)) << (shift + 8);
      const low = shift === 0 ? 0 : ((1 << shift) - 1) & 0x7f7f7f7f;
      v = (high | (0x7f << shift) | low) >>> 0;
      break;
    }
  }
  return v;
}
