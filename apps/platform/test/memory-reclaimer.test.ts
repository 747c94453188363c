import { describe, expect, it } from 'vitest';
import { MemoryReclaimer } from '../src/memory-reclaimer.js';

const MiB = 1024 * 1024;

/** A clock and timer the test drives: `run()` fires what is scheduled, after moving the clock. */
function manualTime() {
  let now = 1_000;
  const pending: Array<{ run: () => void; ms: number }> = [];
  return {
    now: () => now,
    schedule: (run: () => void, ms: number) => {
      const entry = { run, ms };
      pending.push(entry);
      return { cancel: () => void pending.splice(pending.indexOf(entry), 1) };
    },
    pending,
    fire(): number {
      const next = pending.shift();
      if (!next) throw new Error('nothing scheduled');
      now += next.ms;
      next.run();
      return next.ms;
    },
  };
}

describe('MemoryReclaimer', () => {
  it('collects after a hint only when RSS is well above its floor, at most once per interval', () => {
    const time = manualTime();
    let rss = 100 * MiB;
    let collections = 0;
    const r = new MemoryReclaimer({
      rss: () => rss,
      gc: () => {
        collections++;
        rss = 110 * MiB;
      },
      delayMs: 250,
      minIntervalMs: 5_000,
      slackBytes: 32 * MiB,
      now: time.now,
      schedule: time.schedule,
    });
    r.hint();
    expect(time.fire()).toBe(250);
    expect(collections).toBe(0); // 100 MiB: nothing to give back
    rss = 600 * MiB; // a stalled peer's pipe was dropped
    r.hint();
    r.hint(); // coalesced into one
    expect(time.pending).toHaveLength(1);
    time.fire();
    expect(r.stats()).toEqual({ hints: 3, collections: 1, reclaimedBytes: 490 * MiB });
    time.fire(); // a follow-up: RSS is down to 110 MiB, nothing to do, no more follow-ups
    expect(collections).toBe(1);
    expect(time.pending).toHaveLength(0);
    rss = 600 * MiB;
    r.hint();
    time.fire();
    expect(collections).toBe(2);
    rss = 600 * MiB; // still up (buffers handed back late): look again, not sooner than the interval
    expect(time.fire()).toBe(5_000);
    expect(collections).toBe(3);
    rss = 600 * MiB;
    expect(time.fire()).toBe(5_000);
    expect(collections).toBe(4);
    expect(time.pending).toHaveLength(0); // two follow-ups at most
    r.hint();
    r.close();
    expect(time.pending).toHaveLength(0);
  });

  it('does nothing without a gc function', () => {
    const time = manualTime();
    const r = new MemoryReclaimer({ rss: () => 900 * MiB, gc: undefined, now: time.now, schedule: time.schedule });
    r.hint();
    expect(time.pending).toHaveLength(0);
    expect(r.stats()).toMatchObject({ hints: 1, collections: 0 });
  });
});
