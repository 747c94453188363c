import { ClosedError, TimeoutError } from '@vip/protocol';

/** An unbounded FIFO whose `next()` waits with a deadline; for collecting messages in tests. */
export class AsyncQueue<T> {
  readonly #items: T[] = [];
  readonly #waiters: Array<{ resolve: (item: T) => void; reject: (err: Error) => void }> = [];
  #closed = false;

  /** After close, waiting `next()` calls and later ones reject with ClosedError once the items are taken. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) w.reject(new ClosedError('queue'));
  }

  push(item: T): void {
    const w = this.#waiters.shift();
    if (w) w.resolve(item);
    else this.#items.push(item);
  }

  get size(): number {
    return this.#items.length;
  }

  /** Items received so far and not taken, removed from the queue. */
  drain(): T[] {
    return this.#items.splice(0, this.#items.length);
  }

  /** The next item; rejects with `TimeoutError` after `timeoutMs`. */
  next(options: { timeoutMs?: number; what?: string } = {}): Promise<T> {
    const first = this.#items.shift();
    if (first !== undefined) return Promise.resolve(first);
    if (this.#closed) return Promise.reject(new ClosedError('queue'));
    const timeoutMs = options.timeoutMs ?? 5_000;
    return new Promise<T>((resolve, reject) => {
      const waiter = {
        resolve: (item: T) => {
          clearTimeout(timer);
          resolve(item);
        },
        reject: (err: Error) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(new TimeoutError(options.what ?? 'waiting for the next item', timeoutMs));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** The next item matching `predicate`; non-matching items before it are discarded. */
  async nextMatching(predicate: (item: T) => boolean, options: { timeoutMs?: number; what?: string } = {}): Promise<T> {
    const deadline = Date.now() + (options.timeoutMs ?? 5_000);
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new TimeoutError(options.what ?? 'waiting for a matching item', options.timeoutMs ?? 5_000);
      const item = await this.next({ timeoutMs: left, what: options.what });
      if (predicate(item)) return item;
    }
  }
}
