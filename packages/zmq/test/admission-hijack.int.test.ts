// The outside review's admission hijack (issue 10, item 1) on real sockets: CURVE, the real ZAP
// handler and auth rules, a real ZmqRouterTransport. An admitted attacker sends lone empty frames,
// which look exactly like ZMQ_ROUTER_NOTIFY connect/disconnect notifications, around the moment
// a victim with more capabilities connects. The victim must be welcomed as itself and the
// attacker must never be attributed to the victim's key.
import { describe, expect, it } from 'vitest';
import { waitFor } from '@vip/testing';
import type { ZmqRouterTransportOptions } from '../src/router-transport.js';
import { allow, authRouter, testKeys, type RawClient } from './support/auth-router.js';

interface Scenario {
  readonly attacker: { identity: string; pinned: boolean };
  readonly victim: { identity: string; pinned: boolean; userId: string };
  /** Options for the transport (the TTL variant shortens the old "possibly gone" memory). */
  readonly options?: Partial<ZmqRouterTransportOptions>;
}

async function setup(s: Scenario) {
  const attackerKeys = testKeys();
  const victimKeys = testKeys();
  const r = await authRouter(
    [
      allow(attackerKeys, 'attacker', s.attacker.pinned ? { identity: s.attacker.identity } : {}),
      allow(victimKeys, s.victim.userId, {
        capabilities: ['edit_config_store', 'allow_auth_modifications'],
        ...(s.victim.pinned ? { identity: s.victim.identity } : {}),
      }),
    ],
    s.options,
  );
  return { ...r, attackerKeys, victimKeys };
}

/** hello until welcomed; returns the user frame of the welcome. */
async function welcomed(c: RawClient, what: string): Promise<string> {
  const id = await c.vip('hello', ['hello']);
  const welcome = await waitFor(() => c.replyTo(id), { timeoutMs: 5_000, what });
  return welcome[2] as string;
}

/** Waits until the transport has read `n` more frame sets than `before`. */
const readAll = (t: { stats(): { received: number } }, before: number, n: number, what: string) =>
  waitFor(() => t.stats().received >= before + n, { what });

/**
 * After the attack: the attacker asks `whoami`; what the transport handed the router for it must
 * be the attacker's own user (or nothing: an unattributed connection is dropped, never given
 * another key), and the transport must never show the victim's user or capabilities for it.
 */
async function attackerStaysItself(r: Awaited<ReturnType<typeof setup>>, attacker: RawClient): Promise<void> {
  const dropped = () => r.transport.stats().dropped['unauthenticated'] ?? 0;
  const before = dropped();
  const id = await attacker.vip('whoami');
  await waitFor(() => r.routed.some((m) => m.id === id) || dropped() > before, { what: 'the attacker whoami handled' });
  const seen = r.routed.filter((m) => m.sender === attacker.identity);
  expect(seen.map((m) => m.user).filter((u) => u !== 'attacker')).toEqual([]);
  expect(r.transport.userFor(attacker.identity) ?? 'attacker').toBe('attacker');
  expect(r.transport.capabilitiesFor(attacker.identity)?.['allow_auth_modifications']).toBeUndefined();
}

async function attack(s: Scenario, between: (r: Awaited<ReturnType<typeof setup>>, attacker: RawClient) => Promise<void>) {
  const r = await setup(s);
  const attacker = r.client(s.attacker.identity, r.attackerKeys);
  expect(await welcomed(attacker, 'attacker welcomed')).toBe('attacker');
  await between(r, attacker);
  const victim = r.client(s.victim.identity, r.victimKeys);
  // The attacker keeps injecting while the victim's handshake is in flight.
  await attacker.send(['']);
  expect(await welcomed(victim, 'victim welcomed')).toBe(s.victim.userId);
  expect(r.transport.userFor(s.victim.identity)).toBe(s.victim.userId);
  await attackerStaysItself(r, attacker);
}

/** The review's sequence: two empty frames (a fake disconnect and reconnect) before the victim connects. */
const twoEmptyFrames = async (r: Awaited<ReturnType<typeof setup>>, attacker: RawClient) => {
  const before = r.transport.stats().received;
  await attacker.send(['']);
  await attacker.send(['']);
  await readAll(r.transport, before, 2, 'the two empty frames read');
};

describe('admission hijack with lone empty frames (each fails on the pairing-with-the-next-connect code)', () => {
  it('unpinned attacker, unpinned victim with more capabilities', async () => {
    await attack(
      { attacker: { identity: 'attacker', pinned: false }, victim: { identity: 'victim', pinned: false, userId: 'victim' } },
      twoEmptyFrames,
    );
  });

  it('unpinned attacker, pinned victim', async () => {
    await attack(
      { attacker: { identity: 'attacker', pinned: false }, victim: { identity: 'victim', pinned: true, userId: 'victim' } },
      twoEmptyFrames,
    );
  });

  it('pinned attacker, pinned victim', async () => {
    await attack(
      { attacker: { identity: 'attacker', pinned: true }, victim: { identity: 'victim', pinned: true, userId: 'victim' } },
      twoEmptyFrames,
    );
  });

  it('pinned attacker, a vipctl-like client on the unpinned platform key', async () => {
    await attack(
      {
        attacker: { identity: 'attacker', pinned: true },
        victim: { identity: 'control.connection.5eed1e55', pinned: false, userId: 'platform' },
      },
      twoEmptyFrames,
    );
  });

  it('waiting out the possibly-gone memory, then one empty frame', async () => {
    // The old transport forgot a silent "possibly gone" peer after a TTL (shortened here), after
    // which its next empty frame looked like a fresh connect. Now nothing is forgotten on a timer.
    const options = { possiblyGoneGraceMs: 20, possiblyGoneTtlMs: 200 } as unknown as Partial<ZmqRouterTransportOptions>;
    await attack(
      { attacker: { identity: 'attacker', pinned: false }, victim: { identity: 'victim', pinned: false, userId: 'victim' }, options },
      async (r, attacker) => {
        const before = r.transport.stats().received;
        await attacker.send(['']);
        await readAll(r.transport, before, 1, 'the empty frame read');
        const settled = () => {
          const s = r.transport.stats() as unknown as Record<string, number | undefined>;
          return (s['possiblyGone'] ?? 0) === 0 && (s['suspect'] ?? 0) === 0;
        };
        await waitFor(settled, { what: 'the attacker forgotten (old code) or its empty frame explained (new code)' });
        const again = r.transport.stats().received;
        await attacker.send(['']);
        await readAll(r.transport, again, 1, 'the second empty frame read');
      },
    );
  });
});
