import { describe, expect, it } from 'vitest';
import { PendingRequests } from '../src/pending-requests.js';

describe('PendingRequests: one timer for every timeout', () => {
  it('fails a short timeout added after a long one, leaving the long one pending', async () => {
    const pending = new PendingRequests();
    const long = pending.add('long', { from: 'srv', timeoutMs: 60_000, operation: 'op long' });
    const short = pending.add('short', { from: 'srv', timeoutMs: 5, operation: () => 'op short' });
    await expect(short).rejects.toMatchObject({ code: 'VIP_TIMEOUT', message: 'op short timed out after 5 ms' });
    expect(pending.has('long')).toBe(true);
    expect(pending.resolve('long', 7, 'srv')).toBe('settled');
    await expect(long).resolves.toBe(7);
    expect(pending.size).toBe(0);
  });

  it('fails each of several timeouts, settled or not in between', async () => {
    const pending = new PendingRequests();
    const waits = [3, 1, 8, 2, 5].map((ms, i) => pending.add(`k${i}`, { from: 'srv', timeoutMs: ms, operation: `op ${i}` }));
    expect(pending.resolve('k1', 'early', 'srv')).toBe('settled');
    const results = await Promise.allSettled(waits);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'rejected', 'rejected', 'rejected']);
    expect(results.filter((r) => r.status === 'rejected').map((r) => (r.reason as Error).message)).toEqual([
      'op 0 timed out after 3 ms',
      'op 2 timed out after 8 ms',
      'op 3 timed out after 2 ms',
      'op 4 timed out after 5 ms',
    ]);
    // A request added after the timer went idle is timed again.
    await expect(pending.add('again', { from: 'srv', timeoutMs: 2, operation: 'op again' })).rejects.toThrow(
      'op again timed out after 2 ms',
    );
  });

  it('names a lazily named request only when it fails', async () => {
    const pending = new PendingRequests();
    let named = 0;
    const ok = pending.add('a', { from: 'srv', timeoutMs: 1_000, operation: () => `op ${++named}` });
    pending.resolve('a', 1, 'srv');
    await ok;
    expect(named).toBe(0);
    const ac = new AbortController();
    const aborted = pending.add('b', { from: 'srv', timeoutMs: 1_000, operation: () => `op ${++named}`, signal: ac.signal });
    ac.abort();
    await expect(aborted).rejects.toMatchObject({ code: 'VIP_CLOSED', message: expect.stringContaining('op 1 (aborted)') });
    pending.rejectAll(new Error('stopped'));
  });
});

describe('PendingRequests: a request is answered only by the peer it went to', () => {
  it('ignores a reply from another peer (the request stays pending), then takes the right one', async () => {
    const pending = new PendingRequests();
    const reply = pending.add<string>('id-1', { from: 'platform.auth', timeoutMs: 1_000, operation: 'op' });
    expect(pending.resolve('id-1', 'forged', 'mallory')).toBe('wrong-peer');
    expect(pending.resolve('id-1', 'forged', '')).toBe('wrong-peer'); // the router answers no peer's request
    expect(pending.reject('id-1', new Error('forged'), 'mallory')).toBe('wrong-peer');
    expect(pending.has('id-1')).toBe(true);
    expect(pending.resolve('id-1', 'real', 'platform.auth')).toBe('settled');
    await expect(reply).resolves.toBe('real');
    expect(pending.resolve('id-1', 'late', 'platform.auth')).toBe('unknown');
  });

  it('lets the router fail any request (delivery errors) and local failures through', async () => {
    const pending = new PendingRequests();
    const a = pending.add('a', { from: 'srv', timeoutMs: 1_000, operation: 'op a' });
    const b = pending.add('b', { from: 'srv', timeoutMs: 1_000, operation: 'op b' });
    expect(pending.reject('a', new Error('113'), '')).toBe('settled');
    expect(pending.reject('b', new Error('send failed'))).toBe('settled');
    await expect(a).rejects.toThrow('113');
    await expect(b).rejects.toThrow('send failed');
  });
});

describe('PendingRequests.rejectPeer: the router dropped a peer', () => {
  it('fails only what is pending with that peer, now', async () => {
    const pending = new PendingRequests();
    const toB = pending.add('1', { from: 'b', timeoutMs: 60_000, operation: 'op 1', subsystem: 'RPC' });
    const toB2 = pending.add('2', { from: 'b', timeoutMs: 0, operation: 'op 2', subsystem: 'ping' });
    const toC = pending.add('3', { from: 'c', timeoutMs: 60_000, operation: 'op 3' });
    const toRouter = pending.add('4', { from: '', timeoutMs: 60_000, operation: 'op 4' });
    pending.resolve('2', 'answered before the drop', 'b');
    await expect(toB2).resolves.toBe('answered before the drop');
    expect(pending.rejectPeer('b', (o) => new Error(`gone (${o.subsystem})`))).toBe(1);
    await expect(toB).rejects.toThrow('gone (RPC)');
    const later = pending.add('5', { from: 'b', timeoutMs: 60_000, operation: 'op 5' });
    expect(pending.rejectPeer('nobody', () => new Error('x'))).toBe(0);
    expect(pending.has('3') && pending.has('4') && pending.has('5')).toBe(true);
    pending.resolve('5', 'later call answered', 'b');
    await expect(later).resolves.toBe('later call answered');
    expect(pending.rejectPeer('b', () => new Error('no one left'))).toBe(0);
    pending.rejectAll(new Error('stopped'));
    await expect(toC).rejects.toThrow('stopped');
    await expect(toRouter).rejects.toThrow('stopped');
  });
});
