/**
 * Time as the attribution logic sees it: the router transport uses real timers; the model tests
 * drive a manual clock. `defer` runs a function as a fresh macrotask (after the microtasks of the
 * current one): a liveness probe must be sent from such a point, where every frame set read from
 * the socket so far has been handled (README "Peer attribution").
 */
export interface Clock {
  now(): number;
  /** Runs `fn` once after `ms`; returns a handle for `cancel`. Never keeps the process alive. */
  after(ms: number, fn: () => void): unknown;
  cancel(handle: unknown): void;
  /** Runs `fn` as a new macrotask, soon. */
  defer(fn: () => void): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  after: (ms, fn) => setTimeout(fn, ms).unref(),
  cancel: (handle) => clearTimeout(handle as NodeJS.Timeout),
  defer: (fn) => void setImmediate(fn),
};
