import type { Logger } from '@vip/protocol';

export type AgentEvent = 'connected' | 'disconnected';

/** The agent's event listeners; a throwing listener is logged, never breaks the agent. */
export class AgentEvents {
  readonly #listeners = new Map<AgentEvent, Set<() => void>>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  on(event: AgentEvent, listener: () => void): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  emit(event: AgentEvent): void {
    for (const l of [...(this.#listeners.get(event) ?? [])]) {
      try {
        l();
      } catch (err) {
        this.#logger.warn('agent.listener.failed', { event }, err);
      }
    }
  }
}
