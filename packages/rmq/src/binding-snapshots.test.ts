import { describe, expect, it } from 'vitest';
import { BindingSnapshots } from './binding-snapshots.js';
import type { QueueBinding } from './rabbitmq-management.js';

describe('BindingSnapshots', () => {
  it('answers every caller with a request started after its call; a burst shares one', async () => {
    const started: number[] = [];
    const release: Array<() => void> = [];
    const snaps = new BindingSnapshots(() => {
      started.push(started.length);
      const n = started.length;
      return new Promise<QueueBinding[]>((resolve) => release.push(() => resolve([{ destination: `q${n}`, routingKey: 'k', arguments: {} }])));
    });
    const first = snaps.fresh();
    const burst = [snaps.fresh(), snaps.fresh(), snaps.fresh()];
    expect(started.length).toBe(1); // the burst waits: the running request may predate it
    release[0]?.();
    expect((await first)[0]?.destination).toBe('q1');
    await new Promise((r) => setImmediate(r));
    expect(started.length).toBe(2);
    release[1]?.();
    const got = await Promise.all(burst);
    expect(got.map((g) => g[0]?.destination)).toEqual(['q2', 'q2', 'q2']);
    expect(snaps.requests).toBe(2);
  });

  it('passes a failure to its callers and recovers on the next call', async () => {
    let fail = true;
    const snaps = new BindingSnapshots(() => (fail ? Promise.reject(new Error('down')) : Promise.resolve([])));
    await expect(snaps.fresh()).rejects.toThrow('down');
    fail = false;
    await expect(snaps.fresh()).resolves.toEqual([]);
  });
});
