import { describe, expect, it } from 'vitest';
import { ClosedError, ConfigError } from '@vip/protocol';
import { checkRetryPolicy, DEFAULT_RETRY_POLICY, retryDelayMs, withRetry } from '../src/retry.js';

const policy = { attempts: 4, baseDelayMs: 0, maxDelayMs: 0 };
const retryable = (message: string) => Object.assign(new Error(message), { retryable: true });

describe('retryDelayMs', () => {
  it('doubles from the base, caps at the maximum, and draws the upper half at random', () => {
    const p = { attempts: 10, baseDelayMs: 1_000, maxDelayMs: 15_000 };
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(n, p, () => 0))).toEqual([500, 1_000, 2_000, 4_000, 7_500, 7_500]);
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(n, p, () => 1))).toEqual([1_000, 2_000, 4_000, 8_000, 15_000, 15_000]);
    expect(retryDelayMs(1_000, p, () => 0.5)).toBe(11_250); // no overflow however many attempts
  });

  it('the default policy gives up within a minute of waiting', () => {
    let total = 0;
    for (let n = 1; n < DEFAULT_RETRY_POLICY.attempts; n++) total += retryDelayMs(n, DEFAULT_RETRY_POLICY, () => 1);
    expect(total).toBeLessThanOrEqual(60_000);
  });
});

describe('withRetry', () => {
  it('stops at the first success', async () => {
    let calls = 0;
    const outcome = await withRetry(async (n) => {
      calls++;
      if (n < 3) throw retryable(`attempt ${n}`);
      return 'ok';
    }, policy);
    expect(outcome).toEqual({ value: 'ok', attempts: 3 });
    expect(calls).toBe(3);
  });

  it("gives up after the policy's attempts with the last error, never rejecting", async () => {
    const retries: number[] = [];
    const outcome = await withRetry(
      async (n) => {
        throw retryable(`attempt ${n}`);
      },
      policy,
      { onRetry: (n) => void retries.push(n) },
    );
    expect(outcome.attempts).toBe(4);
    expect((outcome.error as Error).message).toBe('attempt 4');
    expect(retries).toEqual([1, 2, 3]);
  });

  it('does not retry what cannot clear up', async () => {
    const outcome = await withRetry(async () => {
      throw new Error('final');
    }, policy);
    expect(outcome.attempts).toBe(1);
  });

  it('an abort ends the wait with ClosedError', async () => {
    const abort = new AbortController();
    const outcome = withRetry(
      async () => {
        queueMicrotask(() => abort.abort());
        throw retryable('down');
      },
      { attempts: 5, baseDelayMs: 3_600_000, maxDelayMs: 3_600_000 },
      { signal: abort.signal },
    );
    expect((await outcome).error).toBeInstanceOf(ClosedError);
    expect((await outcome).attempts).toBe(1);
  });

  it('checks the policy', () => {
    expect(() => checkRetryPolicy({ attempts: 0, baseDelayMs: 1, maxDelayMs: 1 })).toThrow(ConfigError);
    expect(() => checkRetryPolicy({ attempts: 2, baseDelayMs: 10, maxDelayMs: 5 })).toThrow(ConfigError);
    expect(() => checkRetryPolicy({ attempts: 2, baseDelayMs: Number.NaN, maxDelayMs: 5 })).toThrow(ConfigError);
    expect(checkRetryPolicy(DEFAULT_RETRY_POLICY)).toBe(DEFAULT_RETRY_POLICY);
  });
});
