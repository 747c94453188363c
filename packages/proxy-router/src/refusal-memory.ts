import type { ProxyPeerRefusedError } from './errors.js';

/** A refused identity is refused again without a new attempt for this long (each attempt opens a broker connection). */
const REFUSAL_MEMORY_MS = 2_000;
const MAX_REFUSALS_REMEMBERED = 10_000;

/**
 * Identities refused recently, so that a peer retrying its hello does not open a broker connection
 * per attempt. Bounded: beyond MAX_REFUSALS_REMEMBERED everything is forgotten at once.
 */
export class RefusalMemory {
  readonly #refused = new Map<string, { readonly err: ProxyPeerRefusedError; readonly until: number }>();

  remember(key: string, err: ProxyPeerRefusedError): void {
    if (this.#refused.size >= MAX_REFUSALS_REMEMBERED) this.#refused.clear();
    this.#refused.set(key, { err, until: Date.now() + REFUSAL_MEMORY_MS });
  }

  /** The refusal of `key` while it is remembered, else undefined. */
  recent(key: string): ProxyPeerRefusedError | undefined {
    const refused = this.#refused.get(key);
    return refused && refused.until > Date.now() ? refused.err : undefined;
  }
}
