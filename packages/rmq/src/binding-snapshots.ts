import type { QueueBinding } from './rabbitmq-management.js';

/**
 * Reads of an exchange's bindings that are never older than the caller: `fresh()` resolves
 * with a list fetched by a request that *started after* the call. A request starts one tick
 * after the first caller asks (and never while another runs), so every caller of that tick, and
 * every caller arriving while a request runs, shares one request: a window of publishes costs
 * about one request, not one each.
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
    return (this.#next ??= this.#startAfter(this.#running));
  }

  async #startAfter(previous: Promise<QueueBinding[]> | undefined): Promise<QueueBinding[]> {
    if (previous) await previous.catch(() => undefined);
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.#next = undefined; // from here on, callers need the request after this one
    this.#requests += 1;
    const p = this.#fetch();
    this.#running = p;
    try {
      return await p;
    } finally {
      if (this.#running === p) this.#running = undefined;
    }
  }
}
