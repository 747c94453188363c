/**
 * How long a refused ZAP request waits for its `400` (docs/protocol.md 5.4): per source address the
 * first delay is random in [0, firstMaxMs), and each further refusal from that address doubles
 * it, capped at `maxDelayMs` (VOLTTRON: 1 s and 100 s). The delay slows down key guessing
 * without holding up anyone else. An address quiet for `forgetAfterMs` past its last reply starts
 * over; the table keeps at most `maxAddresses` addresses (least recently refused dropped first).
 */
export interface RefusalDelayOptions {
  readonly firstMaxMs?: number;
  readonly maxDelayMs?: number;
  readonly forgetAfterMs?: number;
  readonly maxAddresses?: number;
  /** [0, 1) (default Math.random); injectable for tests. */
  readonly random?: () => number;
}

interface Blocked {
  delayMs: number;
  /** When the last refusal's reply is due. */
  untilMs: number;
}

export class RefusalDelays {
  readonly firstMaxMs: number;
  readonly maxDelayMs: number;
  readonly #forgetAfterMs: number;
  readonly #maxAddresses: number;
  readonly #random: () => number;
  readonly #blocked = new Map<string, Blocked>();

  constructor(options: RefusalDelayOptions = {}) {
    this.maxDelayMs = options.maxDelayMs ?? 100_000;
    this.firstMaxMs = Math.min(options.firstMaxMs ?? 1_000, this.maxDelayMs);
    this.#forgetAfterMs = options.forgetAfterMs ?? this.maxDelayMs;
    this.#maxAddresses = options.maxAddresses ?? 10_000;
    this.#random = options.random ?? Math.random;
  }

  /** The delay for a refusal from `address` at `nowMs`, recorded for the next one. */
  next(address: string, nowMs: number): number {
    const previous = this.#blocked.get(address);
    this.#blocked.delete(address); // re-inserted last: Map order is least recently refused first
    const delayMs =
      previous && nowMs <= previous.untilMs + this.#forgetAfterMs
        ? Math.min(Math.max(previous.delayMs * 2, 1), this.maxDelayMs)
        : this.#random() * this.firstMaxMs;
    this.#blocked.set(address, { delayMs, untilMs: nowMs + delayMs });
    while (this.#blocked.size > this.#maxAddresses) {
      const oldest = this.#blocked.keys().next();
      if (oldest.done) break;
      this.#blocked.delete(oldest.value);
    }
    return delayMs;
  }

  /** Addresses currently remembered. */
  get size(): number {
    return this.#blocked.size;
  }

  clear(): void {
    this.#blocked.clear();
  }
}
