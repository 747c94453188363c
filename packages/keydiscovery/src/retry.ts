import { setTimeout as sleep } from 'node:timers/promises';
import { ClosedError, ConfigError } from '@vip/protocol';

/**
 * How often and how patiently one platform's discovery is attempted. VOLTTRON retries a failed
 * fetch every 30 s plus a random fraction of a second, forever (docs/protocol.md 6.2); vip stops
 * after `attempts` and reports the last error, so an operator sees a platform that will not answer.
 */
export interface RetryPolicy {
  /** Attempts in all, the first included (>= 1). */
  readonly attempts: number;
  /** The wait before the second attempt; each later wait doubles, up to `maxDelayMs`. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({ attempts: 6, baseDelayMs: 1_000, maxDelayMs: 15_000 });

export function checkRetryPolicy(policy: RetryPolicy): RetryPolicy {
  const { attempts, baseDelayMs, maxDelayMs } = policy;
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > 1_000) {
    throw new ConfigError(`retry attempts must be an integer from 1 to 1000 (got ${attempts})`);
  }
  if (!(baseDelayMs >= 0) || !(maxDelayMs >= baseDelayMs) || maxDelayMs > 3_600_000) {
    throw new ConfigError(`retry delays must satisfy 0 <= baseDelayMs <= maxDelayMs <= 3600000 (got ${baseDelayMs}, ${maxDelayMs})`);
  }
  return policy;
}

/**
 * The wait after failed attempt `attempt` (1-based): the doubled delay capped at `maxDelayMs`,
 * of which the upper half is drawn at random ("equal jitter"), so platforms restarted together
 * do not all ask again at the same instant, and no wait shrinks to nothing.
 */
export function retryDelayMs(attempt: number, policy: RetryPolicy, random: () => number): number {
  const capped = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(attempt - 1, 30));
  return capped / 2 + (capped / 2) * random();
}

export interface RetryHooks {
  readonly signal?: AbortSignal | undefined;
  readonly random?: (() => number) | undefined;
  /** Called after each failed attempt that will be followed by another, with the wait chosen. */
  readonly onRetry?: ((attempt: number, error: unknown, delayMs: number) => void) | undefined;
  /** Whether an error may clear up on another attempt; default: its `retryable` property, else no. */
  readonly retryable?: ((error: unknown) => boolean) | undefined;
}

export interface RetryOutcome<T> {
  readonly value?: T;
  readonly error?: unknown;
  readonly attempts: number;
}

const defaultRetryable = (err: unknown): boolean => (err as { retryable?: unknown } | null)?.retryable === true;

/**
 * Runs `attempt` until it resolves, fails with an error that is not retryable, or has failed
 * `policy.attempts` times; waits between attempts per `retryDelayMs`. Never rejects: the outcome
 * carries the value or the last error and the number of attempts made. An abort ends the wait at
 * once with ClosedError.
 */
export async function withRetry<T>(
  attempt: (n: number) => Promise<T>,
  policy: RetryPolicy,
  hooks: RetryHooks = {},
): Promise<RetryOutcome<T>> {
  const random = hooks.random ?? Math.random;
  const retryable = hooks.retryable ?? defaultRetryable;
  for (let n = 1; ; n++) {
    if (hooks.signal?.aborted) return { error: new ClosedError('key discovery', { cause: hooks.signal.reason }), attempts: n - 1 };
    try {
      return { value: await attempt(n), attempts: n };
    } catch (err) {
      if (n >= policy.attempts || !retryable(err)) return { error: err, attempts: n };
      const delayMs = retryDelayMs(n, policy, random);
      hooks.onRetry?.(n, err, delayMs);
      try {
        await sleep(delayMs, undefined, hooks.signal ? { signal: hooks.signal } : {});
      } catch {
        // only an abort rejects the sleep
        return { error: new ClosedError('key discovery', { cause: hooks.signal?.reason }), attempts: n };
      }
    }
  }
}
