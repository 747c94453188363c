// PeerAttribution against a model of the ROUTER socket (test/support/model-router.ts): many
// random interleavings of honest clients and attackers, pure logic, a manual clock. After every
// step, every user the attribution gives to a message must be the user of the key the message's
// connection was admitted with. VIP_MODEL_STEPS / VIP_MODEL_SEED run more or other interleavings.
import { describe, expect, it } from 'vitest';
import { seededPrng, type Prng } from '@vip/testing';
import { PeerAttribution, type PeerAttributionOptions } from '../src/attribution/peer-attribution.js';
import type { AdmissionAnswer, PendingAdmission, ZapAdmission } from '../src/zap-contract.js';
import { FakeClock, ModelRouter, modelMessage, senderOf, type ModelConnection } from './support/model-router.js';

interface Key {
  readonly user: string;
  readonly pin: string | undefined;
  readonly attacker: boolean;
}

interface Mix {
  /** Share of new connections made by attackers. */
  readonly attackers: number;
  /** Honest unpinned clients reconnect with the same routing id (else a fresh one each time). */
  readonly unpinnedSameId: boolean;
}

const TIMEOUT_MS = 200;
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

class Simulation {
  readonly clock = new FakeClock();
  readonly router = new ModelRouter();
  readonly conns: ModelConnection[] = [];
  readonly violations: string[] = [];
  routed = 0;
  readonly keys: Key[];
  readonly attribution: PeerAttribution;
  readonly #rng: Prng;
  readonly #mix: Mix;
  readonly #admitted: ModelConnection[] = [];
  readonly #handshaking: ModelConnection[] = [];
  #step = 0;
  #fresh = 0;

  constructor(rng: Prng, mix: Mix, options: Partial<PeerAttributionOptions> = {}) {
    this.#rng = rng;
    this.#mix = mix;
    this.keys = [
      ...['h1', 'h2', 'h3', 'h4'].map((pin) => ({ user: `user.${pin}`, pin, attacker: false })),
      ...['u1', 'u2'].map((user) => ({ user, pin: undefined, attacker: false })),
      { user: 'mallory', pin: 'mallory', attacker: true },
      { user: 'eve', pin: undefined, attacker: true },
    ];
    this.attribution = new PeerAttribution({
      authenticate: true,
      admissionTimeoutMs: TIMEOUT_MS,
      clock: this.clock,
      sendProbe: (id) => Promise.resolve(this.router.probe(id.toString('latin1'))),
      peerEvent: () => undefined,
      message: (m, user) => {
        this.routed++;
        this.#check(m, user, 'released');
      },
      drop: () => undefined,
      ...options,
    });
  }

  #check(m: Parameters<PeerAttributionOptions['message']>[0], user: string, how: string): void {
    const conn = this.conns[senderOf(m)];
    if (conn?.user !== user)
      this.violations.push(`step ${this.#step}: ${how} message of connection ${conn?.n} (${conn?.user}, id ${conn?.routingId}) as ${user}`);
  }

  #honestLive(key: Key): boolean {
    return this.conns.some((c) => c.user === key.user && c.state !== 'closed');
  }

  connect(): void {
    const rng = this.#rng;
    const attacker = rng.next() < this.#mix.attackers;
    const candidates = this.keys.filter((k) => k.attacker === attacker && (attacker || !this.#honestLive(k)));
    if (candidates.length === 0) return;
    const key = rng.pick(candidates);
    let routingId: string;
    if (attacker) routingId = rng.pick([key.pin ?? 'eve', ...this.keys.map((k) => k.pin ?? k.user), `x${rng.int(0, 3)}`]);
    else if (key.pin !== undefined) routingId = key.pin;
    else routingId = this.#mix.unpinnedSameId ? key.user : `${key.user}.${++this.#fresh}`;
    const conn: ModelConnection = { n: this.conns.length, routingId, user: key.user, pin: key.pin, state: 'handshake', pipe: undefined };
    this.conns.push(conn);
    this.#handshaking.push(conn);
  }

  /** The connection's handshake reaches ZAP: the attribution gets its admission. */
  zap(): void {
    const conn = this.#take(this.#handshaking);
    if (conn === undefined || conn.state !== 'handshake') return;
    const admission: ZapAdmission = {
      userId: conn.user,
      mechanism: 'CURVE',
      credential: `key-${conn.user}`,
      address: '127.0.0.1',
      domain: 'vip',
      ...(conn.pin !== undefined ? { identity: conn.pin } : {}),
    };
    let answered = false;
    const pending: PendingAdmission = {
      admission,
      answer: (accept): Promise<AdmissionAnswer> => {
        if (answered) return Promise.resolve('answered');
        answered = true;
        if (conn.state !== 'handshake') return Promise.resolve('gone');
        if (!accept(admission)) {
          conn.state = 'closed';
          return Promise.resolve('declined');
        }
        conn.state = 'admitted';
        conn.admittedAt = this.clock.now();
        this.#admitted.push(conn);
        return Promise.resolve('sent');
      },
      decline: () => {
        answered = true;
        conn.state = 'closed';
      },
    };
    this.attribution.admit(pending);
  }

  /** An admitted connection's engine attaches its pipe (or an attacker drops it first). */
  attach(): void {
    const conn = this.#take(this.#admitted);
    if (conn === undefined) return;
    const key = this.keys.find((k) => k.user === conn.user) as Key;
    if (key.attacker && this.#rng.next() < 0.1) {
      conn.state = 'closed'; // abandoned between its 200 and its attach
      return;
    }
    this.router.attach(conn);
    if (conn.state === 'attached' && this.#rng.next() < 0.2) this.router.write(conn, undefined); // ZMQ_PROBE_ROUTER
  }

  read(): void {
    this.#handle(this.router.read((n) => this.#rng.int(0, n - 1)));
  }

  /**
   * The timing assumption (README "Peer attribution"): a connection that got its 200 attaches, and
   * its connect notification is read, well within the admission timeout, or never. Before time
   * moves on, connections admitted long enough ago are attached and their notification read.
   */
  #keepTimingAssumption(until: number): void {
    for (const conn of this.conns) {
      if (conn.admittedAt === undefined || conn.seen || until - conn.admittedAt < TIMEOUT_MS / 2) continue;
      if (conn.state === 'admitted') {
        this.#admitted.splice(this.#admitted.indexOf(conn), 1);
        this.router.attach(conn);
      }
      if (conn.state === 'attached' && conn.pipe && !conn.seen) this.#handle(this.router.readFrom(conn.pipe));
      conn.seen = true;
    }
  }

  #advance(ms: number): void {
    this.#keepTimingAssumption(this.clock.time + ms);
    this.clock.advance(ms);
  }

  #handle(r: ReturnType<ModelRouter['read']>): void {
    if (r === undefined) return;
    const id = Buffer.from(r.id, 'latin1');
    if (r.payload === undefined) {
      this.attribution.empty(id);
      return;
    }
    const m = modelMessage(r.id, r.conn, r.payload);
    const user = this.attribution.message(m);
    if (user !== undefined) this.#check(m, user, 'routed');
    if (user !== undefined) this.routed++;
  }

  send(): void {
    const live = this.conns.filter((c) => c.state === 'attached');
    if (live.length === 0) return;
    const conn = this.#rng.pick(live);
    const key = this.keys.find((k) => k.user === conn.user) as Key;
    this.router.write(conn, key.attacker && this.#rng.next() < 0.5 ? undefined : `m${this.#step}`);
  }

  /** Mostly connections that are up; now and then one still in its handshake. */
  close(): void {
    const up = this.conns.filter((c) => c.state === 'attached' || c.state === 'stuck');
    const any = this.conns.filter((c) => c.state !== 'closed');
    const from = up.length > 0 && this.#rng.next() < 0.9 ? up : any;
    if (from.length > 0) this.router.close(this.#rng.pick(from));
  }

  async step(): Promise<void> {
    this.#step++;
    const r = this.#rng.next();
    if (r < 0.06) this.connect();
    else if (r < 0.14) this.zap();
    else if (r < 0.22) this.attach();
    else if (r < 0.5) this.read();
    else if (r < 0.58) this.router.removeOne((n) => this.#rng.int(0, n - 1));
    else if (r < 0.68) this.send();
    else if (r < 0.72) this.close();
    else if (r < 0.92) this.clock.runOne();
    else this.#advance(this.#rng.int(0, 30));
    await flush();
  }

  /** No new connections: let everything in flight finish. */
  async settle(maxSteps: number): Promise<void> {
    for (let i = 0; i < maxSteps; i++) {
      this.zap();
      this.attach();
      this.read();
      this.router.removeOne(() => 0);
      if (!this.clock.runOne()) this.#advance(50);
      await flush();
    }
  }

  #take(list: ModelConnection[]): ModelConnection | undefined {
    if (list.length === 0) return undefined;
    return list.splice(this.#rng.int(0, list.length - 1), 1)[0];
  }
}

const STEPS = Number(process.env.VIP_MODEL_STEPS ?? 30_000);
const SEED = Number(process.env.VIP_MODEL_SEED ?? 0x5eed);

describe('PeerAttribution against the ROUTER model', () => {
  it(`never gives a connection another key's user: ${STEPS} random steps with attackers (seed ${SEED})`, async () => {
    for (const [i, mix] of (
      [
        { attackers: 0.5, unpinnedSameId: true },
        { attackers: 0.3, unpinnedSameId: false },
      ] as Mix[]
    ).entries()) {
      const sim = new Simulation(seededPrng(SEED + i), mix);
      for (let s = 0; s < STEPS && sim.violations.length === 0; s++) await sim.step();
      await sim.settle(500);
      expect(sim.violations).toEqual([]);
      const counters = sim.attribution.stats().counters;
      expect(counters['rounds']).toBeGreaterThan(50);
      expect(counters['probes']).toBeGreaterThan(50);
    }
  }, 120_000);

  it('with honest clients only, every live connection ends up with its user', async () => {
    const sim = new Simulation(seededPrng(SEED + 7), { attackers: 0, unpinnedSameId: false });
    for (let s = 0; s < STEPS / 3; s++) await sim.step();
    await sim.settle(2_000);
    expect(sim.violations).toEqual([]);
    const live = sim.conns.filter((c) => c.state === 'attached');
    expect(live.length).toBeGreaterThan(0);
    const wrong = live.filter((c) => sim.attribution.userFor(c.routingId) !== c.user).map((c) => `${c.routingId}:${c.user}`);
    expect(wrong).toEqual([]);
  }, 120_000);
});
