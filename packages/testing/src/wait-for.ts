import type { EventEmitter } from 'node:events';
import { TimeoutError } from '@vip/protocol';

export interface WaitForOptions {
  /** Deadline; hitting it rejects with `TimeoutError`. Default 5,000 ms. */
  readonly timeoutMs?: number;
  /** How often a condition function is re-checked; default 10 ms. */
  readonly intervalMs?: number;
  /** Names the wait in the timeout error. */
  readonly what?: string;
}

type Falsy = false | undefined | null | 0 | '';

/**
 * Wait for something with a deadline (never sleep-then-assert):
 * - `waitFor(() => value)`: re-checks until it returns a truthy value, resolves with it;
 * - `waitFor(emitter, 'event')`: the event's first argument;
 * - `waitFor(asyncIterable, predicate)`: the first item that matches.
 */
export function waitFor<T>(check: () => T | Falsy | Promise<T | Falsy>, options?: WaitForOptions): Promise<T>;
export function waitFor<T = unknown>(emitter: EventEmitter, event: string, options?: WaitForOptions): Promise<T>;
export function waitFor<T>(source: AsyncIterable<T>, predicate: (item: T) => boolean, options?: WaitForOptions): Promise<T>;
export function waitFor<T>(
  a: (() => T | Falsy | Promise<T | Falsy>) | EventEmitter | AsyncIterable<T>,
  b?: string | ((item: T) => boolean) | WaitForOptions,
  c?: WaitForOptions,
): Promise<T> {
  if (typeof a === 'function') return poll(a, (b as WaitForOptions | undefined) ?? {});
  if (typeof b === 'string') return once(a as EventEmitter, b, c ?? {}) as Promise<T>;
  return firstMatch(a as AsyncIterable<T>, b as (item: T) => boolean, c ?? {});
}

function deadline(options: WaitForOptions, fallback: string): { ms: number; error: () => TimeoutError } {
  const ms = options.timeoutMs ?? 5_000;
  return { ms, error: () => new TimeoutError(options.what ?? fallback, ms) };
}

async function poll<T>(check: () => T | Falsy | Promise<T | Falsy>, options: WaitForOptions): Promise<T> {
  const { ms, error } = deadline(options, 'waiting for a condition');
  const end = Date.now() + ms;
  const interval = options.intervalMs ?? 10;
  for (;;) {
    const value = await check();
    if (value) return value as T;
    if (Date.now() >= end) throw error();
    await new Promise<void>((r) => setTimeout(r, interval));
  }
}

function once(emitter: EventEmitter, event: string, options: WaitForOptions): Promise<unknown> {
  const { ms, error } = deadline(options, `waiting for event ${event}`);
  return new Promise((resolve, reject) => {
    const onEvent = (value: unknown) => {
      clearTimeout(timer);
      resolve(value);
    };
    const timer = setTimeout(() => {
      emitter.off(event, onEvent);
      reject(error());
    }, ms);
    emitter.once(event, onEvent);
  });
}

async function firstMatch<T>(source: AsyncIterable<T>, predicate: (item: T) => boolean, options: WaitForOptions): Promise<T> {
  const { ms, error } = deadline(options, 'waiting for a matching item');
  const it = source[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error()), ms);
  });
  try {
    for (;;) {
      const r = await Promise.race([it.next(), expired]);
      if (r.done) throw new TimeoutError(`${options.what ?? 'waiting for a matching item'} (source ended)`, ms);
      if (predicate(r.value)) return r.value;
    }
  } finally {
    clearTimeout(timer);
    // Do not await: a generator blocked in next() would only settle after its next item.
    it.return?.().catch(() => undefined);
  }
}
