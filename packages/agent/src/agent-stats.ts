/** Named counters an agent keeps (bad input is counted, never fatal). */
export class AgentStats {
  readonly #counters = new Map<string, number>();
  count(name: string, n = 1): void {
    this.#counters.set(name, (this.#counters.get(name) ?? 0) + n);
  }
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.#counters);
  }
}
