// Admission fuzz (issue 10): real CURVE sockets, the real ZAP handler and auth rules, a real
// ZmqRouterTransport. Clients with pinned and unpinned keys connect, disconnect, reconnect with
// the same routing id, send lone empty frames and use (race for) other clients' routing ids, in a seeded
// random interleaving. Every frame set a client sends carries the number of its connection, so
// the router side knows the ground truth: whenever the transport hands the router a message,
// the user id it gives must be the user of the key that connection was admitted with. After
// every step each live connection sends one, so the router's view of every connection is
// checked at every step. VIP_ADMISSION_FUZZ_STEPS / VIP_ADMISSION_FUZZ_SEED for more or others.
import { describe, expect, it } from 'vitest';
import { seededPrng, waitFor, type Prng } from '@vip/testing';
import { allow, authRouter, testKeys, type RawClient, type Routed, type TestKeys } from './support/auth-router.js';

const STEPS = Number(process.env.VIP_ADMISSION_FUZZ_STEPS ?? 10_000);
const SEED = Number(process.env.VIP_ADMISSION_FUZZ_SEED ?? 0xad317);
const MAX_LIVE = 10;

interface Key {
  readonly user: string;
  /** Pinned identity, if any. */
  readonly pin: string | undefined;
  readonly attacker: boolean;
  readonly keys: TestKeys;
}

interface Conn {
  readonly n: number;
  readonly key: Key;
  readonly routingId: string;
  readonly client: RawClient;
  closed: boolean;
}

const KEYS: Key[] = [
  ...['h1', 'h2', 'h3'].map((pin) => ({ user: `user.${pin}`, pin, attacker: false, keys: testKeys() })),
  ...['u1', 'u2'].map((user) => ({ user, pin: undefined, attacker: false, keys: testKeys() })),
  { user: 'mallory', pin: 'mallory', attacker: true, keys: testKeys() },
  { user: 'eve', pin: undefined, attacker: true, keys: testKeys() },
];

describe('admission fuzz on real sockets', () => {
  it(`never gives a connection another key's user: ${STEPS} steps (seed ${SEED})`, async () => {
    const rng: Prng = seededPrng(SEED);
    const conns: Conn[] = [];
    const violations: string[] = [];
    let routed = 0;
    const check = (m: Routed) => {
      const n = Number(m.id.split(':')[0]);
      const conn = conns[n];
      routed++;
      if (conn !== undefined && conn.key.user !== m.user) {
        violations.push(`${m.subsystem} of connection ${n} (${conn.key.user}, routing id ${conn.routingId}) routed as ${m.user}`);
      }
    };
    const entries = KEYS.map((k) => allow(k.keys, k.user, k.pin !== undefined ? { identity: k.pin } : {}));
    const r = await authRouter(entries, { admissionTimeoutMs: 1000 }, { record: false, onMessage: check });
    const live = () => conns.filter((c) => !c.closed);
    const send = (c: Conn, frames: string[]) => void c.client.send(frames).catch(() => undefined);
    const whoami = (c: Conn, step: number) => send(c, ['', 'VIP1', '', `${c.n}:${step}`, 'whoami']);

    const connect = (routingIdOf: (k: Key) => string, key: Key) => {
      const routingId = routingIdOf(key);
      const client = r.client(routingId, key.keys, { sendTimeout: 0 });
      conns.push({ n: conns.length, key, routingId, client, closed: false });
    };
    const close = (c: Conn) => {
      c.closed = true;
      void c.client.close();
    };
    const honestId = (k: Key) => k.pin ?? k.user; // an honest client keeps its routing id across reconnects
    const attackerId = (k: Key) => rng.pick([k.pin ?? 'eve', ...KEYS.map((x) => x.pin ?? x.user), `x${rng.int(0, 2)}`]);

    const started = Date.now();
    for (let step = 0; step < STEPS && violations.length === 0; step++) {
      const roll = rng.next();
      const up = live();
      if (roll < 0.1 && up.length < MAX_LIVE) {
        const attacker = rng.next() < 0.4;
        const free = KEYS.filter((k) => k.attacker === attacker && (attacker || !up.some((c) => c.key === k)));
        if (free.length > 0) {
          const key = rng.pick(free);
          connect(attacker ? attackerId : honestId, key);
        }
      } else if (roll < 0.15 && up.length > 0) {
        close(rng.pick(up));
      } else if (roll < 0.18 && up.length > 0) {
        // Reconnect at once with the same routing id (an agent restarting).
        const c = rng.pick(up);
        close(c);
        connect(() => c.routingId, c.key);
      } else if (roll < 0.21 && up.length > 0) {
        // A race for a routing id: an honest client reconnects, and mallory connects with its id at once.
        const honest = up.filter((c) => !c.key.attacker);
        if (honest.length > 0) {
          const c = rng.pick(honest);
          close(c);
          const mallory = () => connect(() => c.routingId, KEYS.find((k) => k.user === 'mallory') as Key);
          if (rng.next() < 0.5) mallory();
          connect(() => c.routingId, c.key);
          if (up.length < MAX_LIVE) mallory();
        }
      } else if (roll < 0.3) {
        const attackers = up.filter((c) => c.key.attacker);
        if (attackers.length > 0) send(rng.pick(attackers), ['']);
      }
      for (const c of live()) whoami(c, step);
      // Time for handshakes and round trips, in no fixed rhythm.
      await new Promise<void>((resolve) => (rng.next() < 0.3 ? setImmediate(resolve) : setTimeout(resolve, rng.int(1, 4))));
    }
    for (const c of live()) if (c.key.attacker) close(c);
    expect(violations).toEqual([]);
    expect(routed).toBeGreaterThan(STEPS / 4);
    const stats = r.transport.stats();
    expect(stats.attribution['rounds']).toBeGreaterThan(50);

    // Still admitting afterwards: a fresh connection per honest key is welcomed under its own user.
    for (const c of live()) close(c);
    for (const key of KEYS.filter((k) => !k.attacker)) {
      const routingId = key.pin ?? `${key.user}.final`;
      const client = r.client(routingId, key.keys);
      const id = await client.vip('hello', ['hello']);
      const welcome = await waitFor(() => client.replyTo(id), { timeoutMs: 20_000, what: `${key.user} welcomed after the fuzz` });
      expect(welcome[2]).toBe(key.user);
    }
    expect(violations).toEqual([]);
    // eslint-disable-next-line no-console -- the figures a reader of the test log wants
    console.log(
      `admission fuzz: ${STEPS} steps, ${conns.length} connections, ${routed} messages checked in ${Date.now() - started} ms`,
      JSON.stringify(stats.attribution),
    );
  }, 300_000);
});
