// PeerAttribution, scenario by scenario (pure logic, a manual clock; the random interleavings are
// attribution.model.test.ts). The ROUTER socket is played by hand: `connect`/`frame`/`empty` are
// what the socket would read, `probes` says what a ROUTER_MANDATORY send to an id would find.
import { describe, expect, it } from 'vitest';
import { textFrame, type RoutedMessage } from '@vip/protocol';
import { PeerAttribution } from '../src/attribution/peer-attribution.js';
import type { AdmissionAnswer, PendingAdmission, ZapAdmission } from '../src/zap-contract.js';
import { FakeClock } from './support/model-router.js';

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

function harness() {
  const clock = new FakeClock();
  const attached = new Set<string>();
  const routed: Array<[string, string]> = [];
  const events: string[] = [];
  const drops: string[] = [];
  const a = new PeerAttribution({
    authenticate: true,
    clock,
    sendProbe: (id) => Promise.resolve(attached.has(id.toString()) ? 'alive' : 'gone'),
    peerEvent: (e) => events.push(`${e.type}:${e.peer.toString()}${e.type === 'peer-connected' ? `:${e.user}` : ''}`),
    message: (m, user) => routed.push([m.id.toString(), user]),
    drop: (reason) => drops.push(reason),
  });
  /** Hands an admission to the attribution; `answered()` resolves when its 200 went out. */
  const admit = (userId: string, identity?: string) => {
    let sent: () => void = () => undefined;
    const answered = new Promise<void>((resolve) => (sent = resolve));
    const admission: ZapAdmission = {
      userId,
      mechanism: 'CURVE',
      credential: `key-${userId}`,
      address: '127.0.0.1',
      domain: 'vip',
      ...(identity ? { identity } : {}),
    };
    const pending: PendingAdmission = {
      admission,
      answer: (accept): Promise<AdmissionAnswer> => {
        if (!accept(admission)) return Promise.resolve('declined');
        sent();
        return Promise.resolve('sent');
      },
      decline: () => undefined,
    };
    a.admit(pending);
    return { answered };
  };
  const message = (id: string, tag: string): RoutedMessage => ({
    sender: textFrame(id),
    recipient: textFrame(''),
    user: textFrame(''),
    id: textFrame(tag),
    subsystem: textFrame('x'),
    args: [],
  });
  /** The socket reads a frame set from `id`: routed at once (returns the user) or held/dropped. */
  const frame = (id: string, tag: string) => {
    const user = a.message(message(id, tag));
    if (user !== undefined) routed.push([tag, user]);
    return user;
  };
  const empty = (id: string) => a.empty(textFrame(id));
  /** Runs deferred work and timers until nothing is due within `ms`. */
  const run = async (ms = 0) => {
    const until = clock.time + ms;
    for (;;) {
      await flush();
      if (clock.runOne()) continue;
      if (clock.time >= until) break;
      clock.advance(until - clock.time);
    }
    await flush();
  };
  /** Admits and lets the attribution answer it. */
  const admitted = async (userId: string, identity?: string) => {
    const pending = admit(userId, identity);
    await run();
    await pending.answered;
  };
  return { a, clock, attached, routed, events, drops, admit, admitted, frame, empty, run };
}

describe('PeerAttribution', () => {
  it("an attacker that wins the race for a pinned victim's routing id gets no user, and nor does anyone in that round", async () => {
    const h = harness();
    const victim = h.admit('victim', 'v');
    const attacker = h.admit('mallory', 'mallory');
    await h.run();
    await Promise.all([victim.answered, attacker.answered]); // one round, answered in parallel
    // The attacker's connection, routing id 'v', attaches first; the victim's is refused as a duplicate.
    h.attached.add('v');
    h.empty('v');
    h.frame('v', 'steal');
    await h.run(3_000); // mallory's admission never meets a connection: it expires
    expect(h.routed).toEqual([]);
    expect(h.a.userFor('v')).toBeUndefined();
    expect(h.a.stats().counters).toMatchObject({ 'admission timeout': 1, 'rounds poisoned': 1, 'admission round poisoned': 1 });
    expect(h.drops).toContain('unauthenticated');
  });

  it('an empty frame on a known routing id is never a connect, however long it waits', async () => {
    const h = harness();
    await h.admitted('alice', 'alice');
    h.attached.add('alice');
    h.empty('alice');
    expect(h.frame('alice', 'a1')).toBe('alice');
    h.empty('alice'); // an injection: probed, found alive, kept
    await h.run(10 * 60_000);
    const eve = h.admit('eve'); // unpinned, fits any routing id
    await h.run(1_000);
    await eve.answered;
    h.empty('alice'); // looks like alice reconnecting: still not a connect
    await h.run(3_000);
    expect(h.a.userFor('alice')).not.toBe('eve');
    expect(h.events).toEqual(['peer-connected:alice:alice', 'peer-gone:alice']); // contested: eve's round could have made it
  });

  it('a message from a routing id never seen makes it known: its later empty frame is not a connect', async () => {
    const h = harness();
    h.attached.add('ghost');
    expect(h.frame('ghost', 'g1')).toBeUndefined();
    const eve = h.admit('eve');
    await h.run();
    await eve.answered;
    h.empty('ghost');
    await h.run(1_000);
    expect(h.a.userFor('ghost')).toBeUndefined();
    expect(h.a.stats().unattributed).toBe(1);
  });

  it('gone: what was read after the probe is a new connection, tied to its own admission', async () => {
    const h = harness();
    await h.admitted('bob', 'bob');
    h.attached.add('bob');
    h.empty('bob');
    h.frame('bob', 'b1');
    h.attached.delete('bob'); // bob leaves...
    h.empty('bob'); // ...its disconnect notification
    await h.run(3); // not probed yet
    const again = h.admit('bob', 'bob'); // bob restarting: waits while 'bob' is known
    await h.run(10);
    expect(h.a.userFor('bob')).toBeUndefined();
    await again.answered; // probed gone, forgotten, then answered
    h.attached.add('bob');
    h.empty('bob');
    h.frame('bob', 'b2');
    await h.run(100);
    expect(h.routed).toEqual([
      ['b1', 'bob'],
      ['b2', 'bob'],
    ]);
    expect(h.events).toEqual(['peer-connected:bob:bob', 'peer-gone:bob', 'peer-connected:bob:bob']);
  });

  it('a connection whose hold overflows while unexplained gets no user', async () => {
    const h = harness();
    await h.admitted('carol', 'carol');
    h.attached.add('carol');
    h.empty('carol');
    expect(h.frame('carol', 'c0')).toBe('carol');
    h.empty('carol');
    for (let i = 0; i < 300; i++) h.frame('carol', `c${i + 1}`);
    await h.run(1_000);
    expect(h.a.userFor('carol')).toBeUndefined();
    expect(h.a.stats().counters['attribution lost in overflow']).toBe(1);
    expect(h.routed).toEqual([['c0', 'carol']]);
  });
});
