/** Named counters an agent keeps (bad input is counted, never fatal). */
export class AgentStats {
  readonly #counters = new Map<string, number>();
  /** `messages.in` / `messages.out`, counted on every message: plain fields, no map lookup. */
  #in = 0;
  #out = 0;

  count(name: string, n = 1): void {
    this.#counters.set(name, (this.#counters.get(name) ?? 0) + n);
  }

  messageIn(): void {
    this.#in++;
  }

  messageOut(): void {
    this.#out++;
  }

  snapshot(): Record<string, number> {
    const s: Record<string, number> = {};
    if (this.#in > 0) s['messages.in'] = this.#in;
    if (this.#out > 0) s['messages.out'] = this.#out;
    return Object.assign(s, Object.fromEntries(this.#counters));
  }
}
