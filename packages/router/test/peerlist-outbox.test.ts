import { describe, expect, it } from 'vitest';
import { frameText, textFrame, type Frame } from '@vip/protocol';
import { PeerlistOutbox } from '../src/peerlist-outbox.js';

function setup(options: { batch?: number; maxEvents?: number; perSecond?: number } = {}) {
  const sent: string[] = [];
  const counts: Record<string, number> = {};
  const turns: Array<() => void> = [];
  const delays: number[] = [];
  let clock = 0;
  const outbox = new PeerlistOutbox({
    deliver: (to: Frame, args: readonly Frame[]) => void sent.push(`${frameText(to)} <- ${args.map((a) => frameText(a)).join(' ')}`),
    count: (name, n) => (counts[name] = (counts[name] ?? 0) + n),
    defer: (fn: () => void, delayMs: number) => {
      turns.push(fn);
      delays.push(delayMs);
    },
    now: () => clock,
    ...options,
  });
  /** Runs queued turns until there are none; returns how many ran. */
  const drain = () => {
    let n = 0;
    for (let fn = turns.shift(); fn !== undefined; fn = turns.shift()) {
      fn();
      n++;
    }
    return n;
  };
  const advance = (ms: number) => (clock += ms);
  return { outbox, sent, counts, turns, delays, advance, drain };
}

const p = (name: string) => textFrame(name);

describe('PeerlistOutbox', () => {
  it('tells every peer that joined before an event, never the peer itself, and nothing before it joined', () => {
    const { outbox, sent, drain } = setup();
    outbox.join(p('a'));
    outbox.publish(true, p('b'));
    outbox.join(p('b'));
    outbox.publish(true, p('c'));
    outbox.join(p('c'));
    drain();
    outbox.leave(p('a'));
    outbox.publish(false, p('a'));
    outbox.publish(true, p('d'));
    outbox.leave(p('b')); // gone before its turn: told nothing more
    drain();
    expect(sent.sort()).toEqual(['a <- add b', 'a <- add c', 'b <- add c', 'c <- drop a', 'c <- add d'].sort());
    expect(outbox.backlog).toBe(0);
  });

  it('sends nothing for a peer that joined and left before a recipient was told, and keeps drop-then-add', () => {
    const { outbox, sent, counts, drain } = setup();
    outbox.join(p('r'));
    outbox.publish(true, p('short'));
    outbox.publish(false, p('short'));
    outbox.publish(false, p('old'));
    outbox.publish(true, p('old'));
    outbox.publish(true, p('twice'));
    outbox.publish(true, p('twice'));
    drain();
    expect(sent).toEqual(['r <- drop old', 'r <- add old', 'r <- add twice']);
    expect(counts['peerlist sent']).toBe(3);
    expect(counts['peerlist coalesced']).toBe(3);
  });

  it('sends in turns of `batch` deliveries, each a new macrotask, paced at perSecond', () => {
    const { outbox, sent, turns, delays, drain } = setup({ batch: 10, perSecond: 1000 });
    for (const r of ['r1', 'r2', 'r3']) outbox.join(p(r));
    for (let i = 0; i < 20; i++) outbox.publish(true, p(`n${i}`));
    expect(turns).toHaveLength(1);
    turns.shift()?.();
    expect(sent.length).toBeLessThanOrEqual(10);
    expect(turns).toHaveLength(1);
    expect(drain()).toBeGreaterThanOrEqual(5);
    expect(sent).toHaveLength(60);
    expect(delays[0]).toBe(0); // the first turn runs at once
    expect(delays.slice(1).every((d) => d === 10)).toBe(true); // then 10 sends per 10 ms: 1,000/s
    expect(outbox.backlog).toBe(0);
  });

  it('is bounded: past maxEvents undelivered events the oldest go, and the recipients that miss them are counted', () => {
    const { outbox, sent, counts, drain } = setup({ maxEvents: 5 });
    outbox.join(p('slow'));
    for (let i = 0; i < 8; i++) outbox.publish(true, p(`n${i}`));
    expect(outbox.backlog).toBe(5);
    expect(counts['peerlist overflow']).toBe(3);
    drain();
    expect(sent).toEqual(['n3', 'n4', 'n5', 'n6', 'n7'].map((n) => `slow <- add ${n}`));
  });

  it('keeps no events when nobody is there to hear them, and none after close', () => {
    const { outbox, sent, drain } = setup();
    outbox.publish(true, p('x'));
    expect(outbox.backlog).toBe(0);
    outbox.join(p('r'));
    outbox.close();
    outbox.publish(true, p('y'));
    drain();
    expect(sent).toEqual([]);
  });
});
