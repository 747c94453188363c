import { TimeoutError } from '@vip/protocol';

/** An unbounded FIFO whose `next()` waits with a deadline; for collecting messages in tests. */
export class AsyncQueue<T> {
  readonly #items: T[] = [];
  readonly #waiters: Array<(item: T) => void> = [];

  push(item: T): void {
    const w = this.#waiters.shift();
    if (w) w(item);
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
    const timeoutMs = options.timeoutMs ?? 5_000;
    return new Promise<T>((resolve, reject) => {
      const waiter = (item: T) => {
        clearTimeout(timer);
        resolve(item);
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
