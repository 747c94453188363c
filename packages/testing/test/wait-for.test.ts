import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { AsyncQueue } from '../src/async-queue.js';
import { waitFor } from '../src/wait-for.js';

describe('waitFor', () => {
  it('resolves with the first truthy value of a condition', async () => {
    let n = 0;
    await expect(waitFor(() => (++n >= 3 ? n : undefined), { intervalMs: 1 })).resolves.toBe(3);
  });

  it('rejects with VIP_TIMEOUT naming the wait when the deadline passes', async () => {
    await expect(waitFor(() => false, { timeoutMs: 30, what: 'never' })).rejects.toMatchObject({ code: 'VIP_TIMEOUT', operation: 'never' });
  });

  it('waits for an event', async () => {
    const e = new EventEmitter();
    const got = waitFor<number>(e, 'tick', { timeoutMs: 1_000 });
    e.emit('tick', 7);
    await expect(got).resolves.toBe(7);
  });

  it('takes the first matching item of an async iterable', async () => {
    async function* gen() {
      yield 1;
      yield 2;
      yield 3;
    }
    await expect(waitFor(gen(), (x) => x > 1)).resolves.toBe(2);
  });
});

describe('AsyncQueue', () => {
  it('hands items to waiters in order, times out, and rejects waiters on close', async () => {
    const q = new AsyncQueue<number>();
    const first = q.next();
    q.push(1);
    q.push(2);
    await expect(first).resolves.toBe(1);
    await expect(q.nextMatching((x) => x === 2)).resolves.toBe(2);
    await expect(q.next({ timeoutMs: 10 })).rejects.toMatchObject({ code: 'VIP_TIMEOUT' });
    const pending = q.next({ timeoutMs: 1_000 });
    q.close();
    await expect(pending).rejects.toMatchObject({ code: 'VIP_CLOSED' });
  });
});
