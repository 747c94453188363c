import { randomFillSync } from 'node:crypto';

/** 8 bytes per value, refilled from the OS CSPRNG 512 values at a time (one syscall per 512 ids). */
const pool = Buffer.alloc(8 * 512);
let offset = pool.length;

/**
 * A uniformly random integer below 2^53 from the OS CSPRNG (`crypto.randomFillSync`): safe as a
 * JavaScript number and printed as at most 16 decimal digits. Not guessable by a peer that saw
 * earlier values, unlike a counter.
 */
export function randomUint53(): number {
  if (offset >= pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const high = pool.readUInt32LE(offset) & 0x1fffff;
  const low = pool.readUInt32LE(offset + 4);
  offset += 8;
  return high * 0x1_0000_0000 + low;
}
