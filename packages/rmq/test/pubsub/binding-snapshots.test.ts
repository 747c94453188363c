import { describe, expect, it } from 'vitest';
import { BindingSnapshots } from '../../src/pubsub/binding-snapshots.js';
import type { QueueBinding } from '../../src/admin/rabbitmq-management.js';

const turn = () => new Promise((r) => setImmediate(r));

describe('BindingSnapshots', () => {
  it('answers every caller with a request started after its call; callers of a tick, and those during a request, share one', async () => {
    const release: Array<() => void> = [];
    const snaps = new BindingSnapshots(
      () =>
        new Promise<QueueBinding[]>((resolve) => {
          const n = release.length + 1;
          release.push(() => resolve([{ destination: `q${n}`, routingKey: 'k', arguments: {} }]));
        }),
    );
    const first = [snaps.fresh(), snaps.fresh()];
    expect(release.length).toBe(0); // starts a tick later, for the whole tick
    await turn();
    expect(release.length).toBe(1);
    const during = [snaps.fresh(), snaps.fresh(), snaps.fresh()]; // request 1 may predate them
    await turn();
    expect(release.length).toBe(1);
    release[0]?.();
    expect((await Promise.all(first)).map((g) => g[0]?.destination)).toEqual(['q1', 'q1']);
    await turn();
    await turn();
    expect(release.length).toBe(2);
    release[1]?.();
    expect((await Promise.all(during)).map((g) => g[0]?.destination)).toEqual(['q2', 'q2', 'q2']);
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
