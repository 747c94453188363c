import type { ConnectionStatus } from '@vip/protocol';

/** A set of ConnectionStatus listeners; a throwing listener does not stop the others. */
export class StatusListeners {
  readonly #listeners = new Set<(status: ConnectionStatus) => void>();
  #last: ConnectionStatus | undefined;

  add(listener: (status: ConnectionStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** The last status emitted. */
  get last(): ConnectionStatus | undefined {
    return this.#last;
  }

  emit(status: ConnectionStatus): void {
    this.#last = status;
    for (const l of this.#listeners) {
      try {
        l(status);
      } catch {
        // a listener's own failure is its business; the link goes on
      }
    }
  }
}
