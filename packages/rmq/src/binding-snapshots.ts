import type { QueueBinding } from './rabbitmq-management.js';

/**
 * Reads of an exchange's bindings that are never older than the caller: `fresh()` resolves
 * with a list fetched by a request that *started after* the call. Callers arriving while a
 * request runs share the next one, so a burst of publishes costs two requests, not one each.
 */
export class BindingSnapshots {
  readonly #fetch: () => Promise<QueueBinding[]>;
  #running: Promise<QueueBinding[]> | undefined;
  #next: Promise<QueueBinding[]> | undefined;
  #requests = 0;

  constructor(fetch: () => Promise<QueueBinding[]>) {
    this.#fetch = fetch;
  }

  /** Management requests made so far. */
  get requests(): number {
    return this.#requests;
  }

  fresh(): Promise<QueueBinding[]> {
    const running = this.#running;
    if (!running) return this.#start();
    return (this.#next ??= running.then(
      () => undefined,
      () => undefined,
    ).then(() => {
      this.#next = undefined;
      return this.#start();
    }));
  }

  #start(): Promise<QueueBinding[]> {
    this.#requests += 1;
    const p = this.#fetch().finally(() => {
      if (this.#running === p) this.#running = undefined;
    });
    this.#running = p;
    return p;
  }
}
