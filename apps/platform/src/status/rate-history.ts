import type { RateSample } from '@vip/protocol';

/** Bytes one sample takes: its time and three rates, as float64. */
export const RATE_SAMPLE_BYTES = 4 * 8;

/**
 * The rate samples of the last minutes in a ring of float64 of a fixed size in bytes: the oldest
 * sample is overwritten once it is full, so the history never grows past `maxBytes`.
 */
export class RateHistory {
  readonly #data: Float64Array;
  readonly #capacity: number;
  #start = 0;
  #length = 0;

  constructor(maxBytes: number) {
    this.#capacity = Math.max(2, Math.floor(maxBytes / RATE_SAMPLE_BYTES));
    this.#data = new Float64Array(this.#capacity * 4);
  }

  /** Samples it holds at most. */
  get capacity(): number {
    return this.#capacity;
  }

  get length(): number {
    return this.#length;
  }

  /** Bytes held by the ring (allocated once). */
  get bytes(): number {
    return this.#data.byteLength;
  }

  push(sample: RateSample): void {
    const slot = (this.#start + this.#length) % this.#capacity;
    this.#data.set([sample.t, sample.messages, sample.deliveries, sample.drops], slot * 4);
    if (this.#length < this.#capacity) this.#length++;
    else this.#start = (this.#start + 1) % this.#capacity;
  }

  /** The last `last` samples (all by default), oldest first. */
  samples(last = this.#length): RateSample[] {
    const n = Math.max(0, Math.min(last, this.#length));
    const out: RateSample[] = [];
    for (let i = this.#length - n; i < this.#length; i++) {
      const o = ((this.#start + i) % this.#capacity) * 4;
      const d = this.#data;
      out.push({ t: d[o] as number, messages: d[o + 1] as number, deliveries: d[o + 2] as number, drops: d[o + 3] as number });
    }
    return out;
  }
}
