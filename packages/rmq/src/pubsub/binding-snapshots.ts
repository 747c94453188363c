/**
 * Reads of an exchange's bindings (or what is made of them) that are never older than the
 * caller: `fresh()` resolves with a snapshot fetched by a request that *started after* the call. A request starts one tick
 * after the first caller asks (and never while another runs), so every caller of that tick, and
 * every caller arriving while a request runs, shares one request: a window of publishes costs
 * about one request, not one each. A failed request rejects its callers; an unobserved one is not
 * an unhandled rejection.
 */
export class BindingSnapshots<T> {
  readonly #fetch: () => Promise<T>;
  #running: Promise<T> | undefined;
  #next: Promise<T> | undefined;
  #requests = 0;

  constructor(fetch: () => Promise<T>) {
    this.#fetch = fetch;
  }

  /** Management requests made so far. */
  get requests(): number {
    return this.#requests;
  }

  fresh(): Promise<T> {
    if (this.#next) return this.#next;
    const next = this.#startAfter(this.#running);
    next.catch(() => undefined); // once per request, not per caller
    return (this.#next = next);
  }

  async #startAfter(previous: Promise<T> | undefined): Promise<T> {
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
