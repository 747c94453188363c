import { describe, expect, it } from 'vitest';
import { waitFor } from '@vip/testing';
import { SendBacklog } from '../src/send-backlog.js';

/** A pipe of `room` messages: sends beyond it fail EAGAIN until `take` frees room. */
class FakePipe {
  readonly sent: string[] = [];
  room: number;
  gone = false;
  constructor(room: number) {
    this.room = room;
  }
  send = (_key: string, frames: Buffer[]): Promise<void> => {
    if (this.gone) return Promise.reject(Object.assign(new Error('gone'), { code: 'EHOSTUNREACH' }));
    if (this.room === 0) return Promise.reject(Object.assign(new Error('full'), { code: 'EAGAIN' }));
    this.room--;
    this.sent.push((frames[1] as Buffer).toString());
    return Promise.resolve();
  };
}

const msg = (to: string, text: string, size = 0): Buffer[] => [Buffer.from(to), Buffer.from(text), Buffer.alloc(size)];

function backlog(pipe: FakePipe, limits: { peerBytes?: number; peerMessages?: number; totalBytes?: number } = {}) {
  const dropped: Array<[number, string]> = [];
  const b = new SendBacklog({
    peerBytes: limits.peerBytes ?? 1_000,
    peerMessages: limits.peerMessages ?? 100,
    totalBytes: limits.totalBytes ?? 10_000,
    send: pipe.send,
    dropped: (n, reason) => dropped.push([n, reason]),
    maxRetryMs: 5,
  });
  return { b, dropped };
}

describe('SendBacklog', () => {
  it('sends queued messages in order once the pipe has room, then lets the peer go', async () => {
    const pipe = new FakePipe(0);
    const { b } = backlog(pipe);
    for (const t of ['a', 'b', 'c']) expect(b.enqueue('p', msg('p', t))).toBe(true);
    expect(b.isBlocked('p')).toBe(true);
    expect(b.stats()).toMatchObject({ peers: 1, messages: 3 });
    pipe.room = 2;
    await waitFor(() => pipe.sent.length === 2, { what: 'two sent' });
    expect(b.isBlocked('p')).toBe(true);
    pipe.room = 5;
    await waitFor(() => !b.isBlocked('p'), { what: 'queue drained' });
    expect(pipe.sent).toEqual(['a', 'b', 'c']);
    expect(b.stats()).toMatchObject({ peers: 0, messages: 0, bytes: 0, sent: 3 });
    expect(b.stats().retries).toBeGreaterThan(0);
    b.close();
  });

  it('refuses past the per-peer bytes and messages and the total bytes', () => {
    const pipe = new FakePipe(0);
    const { b } = backlog(pipe, { peerBytes: 250, peerMessages: 3, totalBytes: 400 });
    expect(b.enqueue('p', msg('p', 'x', 300))).toBe(false); // larger than a peer's queue
    expect(b.enqueue('p', msg('p', '1', 100))).toBe(true);
    expect(b.enqueue('p', msg('p', '2', 100))).toBe(true);
    expect(b.enqueue('p', msg('p', '3', 100))).toBe(false); // 3 x ~102 bytes > 250
    expect(b.enqueue('q', msg('q', '1'))).toBe(true);
    expect(b.enqueue('q', msg('q', '2'))).toBe(true);
    expect(b.enqueue('q', msg('q', '3'))).toBe(true);
    expect(b.enqueue('q', msg('q', '4'))).toBe(false); // 3 messages for q already
    expect(b.enqueue('r', msg('r', '1', 200))).toBe(false); // 204 + 6 + 200 > 400 for all
    expect(b.stats()).toMatchObject({ peers: 2, messages: 5 });
    b.close();
  });

  it("releases a gone peer's queue at once, and counts what it drops", async () => {
    const pipe = new FakePipe(0);
    const { b, dropped } = backlog(pipe);
    b.enqueue('p', msg('p', '1', 100));
    b.enqueue('p', msg('p', '2', 100));
    b.forget('p');
    expect(b.stats()).toMatchObject({ peers: 0, messages: 0, bytes: 0 });
    expect(dropped).toEqual([[2, 'peer gone']]);
    // a send that finds the peer gone drops its queue too
    b.enqueue('q', msg('q', '1'));
    pipe.gone = true;
    pipe.room = 1;
    await waitFor(() => dropped.length === 2, { what: 'the queue of a peer found gone' });
    expect(dropped[1]).toEqual([1, 'peer gone']);
    b.enqueue('r', msg('r', '1'));
    b.close();
    expect(dropped[2]).toEqual([1, 'closed']);
    expect(b.enqueue('r', msg('r', '2'))).toBe(false);
  });
});
