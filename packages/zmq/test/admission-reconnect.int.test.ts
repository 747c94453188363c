// Legitimate reconnects with the same routing id (an agent restarting, or reopening its socket)
// are admitted again at once, pinned or not, on real CURVE sockets with the real ZAP handler.
import { describe, expect, it } from 'vitest';
import { waitFor } from '@vip/testing';
import { allow, authRouter, testKeys, type RawClient } from './support/auth-router.js';

async function welcome(c: RawClient, what: string): Promise<string> {
  const id = await c.vip('hello', ['hello']);
  return (await waitFor(() => c.replyTo(id), { timeoutMs: 5_000, what }))[2] as string;
}

describe('same routing id, quick reconnect', () => {
  for (const pinned of [true, false]) {
    it(`${pinned ? 'pinned' : 'unpinned'} key: closed and reconnected at once, five times, welcomed each time under its user`, async () => {
      const keys = testKeys();
      const r = await authRouter([allow(keys, 'restarter', pinned ? { identity: 'restarter' } : {})]);
      let c = r.client('restarter', keys);
      expect(await welcome(c, 'first connection welcomed')).toBe('restarter');
      for (let i = 0; i < 5; i++) {
        await c.close();
        c = r.client('restarter', keys);
        expect(await welcome(c, `reconnection ${i + 1} welcomed`)).toBe('restarter');
      }
      expect(r.transport.stats().attribution['admission timeout']).toBeUndefined();
    });
  }
});
