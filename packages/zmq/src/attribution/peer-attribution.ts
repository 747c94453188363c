import { identityKey, silentLogger, textFrame, type Logger, type PeerEvent, type RoutedMessage } from '@vip/protocol';
import type { PendingAdmission, ZapAdmission } from '../zap-contract.js';
import type { AdmissionRound } from './admission-round.js';
import { AdmissionRounds, credentialOf } from './admission-rounds.js';
import { systemClock, type Clock } from './clock.js';
import { PeerEntry, type HeldEvent } from './peer-entry.js';

/** What a ROUTER_MANDATORY send to a routing id said: a connection is attached, none is, or no answer. */
export type ProbeOutcome = 'alive' | 'gone' | 'unknown';

export interface PeerAttributionOptions {
  /** Tie connections to ZAP admissions; off: every routing id is its own user (VOLTTRON 7+). */
  readonly authenticate: boolean;
  /** An admission whose connection has not appeared this long after its 200 expires. Default 2000 ms. */
  readonly admissionTimeoutMs?: number;
  /** Pinned admissions answered together, at most. Default 64. */
  readonly maxRoundSize?: number;
  /** An unpinned admission waits at most this long for unexplained empty frames to be resolved. Default 200 ms. */
  readonly unpinnedWaitMs?: number;
  /** Admissions waiting for their round, at most (more are answered 300). Default 10,000. */
  readonly maxQueuedAdmissions?: number;
  /** An admission still waiting after this is answered 300. Default 30 s (libzmq's handshake timeout). */
  readonly maxAdmissionWaitMs?: number;
  /** Liveness probes after an unexplained empty frame: all must find the connection. Default [5, 50] ms. */
  readonly probeDelaysMs?: readonly number[];
  /** One more probe this long after a connection was found alive (a slow disconnect). Default 1000 ms. */
  readonly confirmProbeMs?: number;
  /** While a pinned admission waits for its identity, the connection holding it is probed this often. Default 250 ms. */
  readonly checkProbeMs?: number;
  /** Frame sets held per connection while it is pending or unexplained. Default 256 and 1 MiB. */
  readonly maxHeldEvents?: number;
  readonly maxHeldBytes?: number;
  /** A ROUTER_MANDATORY send to `id` (the transport sends a VIP ping). Called from a fresh macrotask. */
  readonly sendProbe: (id: Buffer) => Promise<ProbeOutcome>;
  readonly peerEvent: (event: PeerEvent) => void;
  /** A message that was held is released under its user. */
  readonly message: (message: RoutedMessage, userId: string) => void;
  /** A frame set was dropped (`unauthenticated`, `held overflow`...). */
  readonly drop: (reason: string) => void;
  readonly logger?: Logger;
  readonly clock?: Clock;
}

type Resolved = Required<Omit<PeerAttributionOptions, 'logger' | 'clock'>>;
type ProbeKind = 'suspect' | 'confirm' | 'check';

export interface PeerAttributionStats {
  readonly attributed: number;
  readonly pending: number;
  readonly unattributed: number;
  /** Routing ids whose last empty frame is not explained yet. */
  readonly suspect: number;
  readonly queuedAdmissions: number;
  /** Candidates of the open round not yet tied to a connection. */
  readonly outstandingAdmissions: number;
  /** The longest an admission waited from its 200 to its connect notification (tune admissionTimeoutMs by it). */
  readonly tieMaxMs: number;
  /** Counters: rounds, poisoned rounds, admission outcomes, probes, contested connections. */
  readonly counters: Readonly<Record<string, number>>;
}

/**
 * Which user each connection of a ZMQ_ROUTER_NOTIFY ROUTER socket is, decided only from what a
 * peer cannot forge (README "Peer attribution"):
 *
 * - a routing id is **known** from its first frame set until a ROUTER_MANDATORY send proves no
 *   connection has it; an empty frame on an unknown id is a new connection's connect notification
 *   (libzmq queues it first), one on a known id is never a connect: it is a disconnect, a router
 *   probe or an injection, and the id becomes **suspect** (what it sends is held) until liveness
 *   probes say gone (forgotten; what was read after the probe is replayed as a new connection)
 *   or alive (kept, unless an admission round open meanwhile did not close clean);
 * - admissions are answered in rounds (`AdmissionRound`), each recorded before its 200 goes
 *   out; a connect notification is tied to the round's candidate it fits, and the tie holds
 *   (the peer gets its user) only when the round closes clean.
 */
export class PeerAttribution {
  readonly #o: Resolved;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #entries = new Map<string, PeerEntry>();
  readonly #suspects = new Set<PeerEntry>();
  readonly #counters: Record<string, number> = {};
  readonly #rounds: AdmissionRounds<PeerEntry>;
  #closed = false;

  constructor(options: PeerAttributionOptions) {
    this.#o = {
      admissionTimeoutMs: 2000,
      maxRoundSize: 64,
      unpinnedWaitMs: 200,
      maxQueuedAdmissions: 10_000,
      maxAdmissionWaitMs: 30_000,
      probeDelaysMs: [5, 50],
      confirmProbeMs: 1000,
      checkProbeMs: 250,
      maxHeldEvents: 256,
      maxHeldBytes: 1024 * 1024,
      ...definedOnly(options),
    } as Resolved;
    this.#logger = options.logger ?? silentLogger;
    this.#clock = options.clock ?? systemClock;
    const o = this.#o;
    const rounds = {
      admissionTimeoutMs: o.admissionTimeoutMs,
      maxRoundSize: o.maxRoundSize,
      unpinnedWaitMs: o.unpinnedWaitMs,
      maxQueuedAdmissions: o.maxQueuedAdmissions,
      maxAdmissionWaitMs: o.maxAdmissionWaitMs,
    };
    this.#rounds = new AdmissionRounds<PeerEntry>(
      rounds,
      {
        known: (identity) => this.#entries.has(keyOf(identity)),
        credentialInUse: (credential) => this.#credentialInUse(credential),
        suspects: () => this.#suspects.size,
        held: (identity) => this.#holdIdentity(identity),
        closed: (round) => this.#roundClosed(round),
      },
      this.#clock,
      (name) => this.#count(name),
      this.#logger,
    );
  }

  // --- what the ROUTER socket reads ---------------------------------------------------------

  /** A lone empty frame `[id, '']`: a connect or disconnect notification, a router probe or an injection. */
  empty(id: Buffer): void {
    if (this.#closed) return;
    const entry = this.#entries.get(identityKey(id));
    if (entry === undefined) {
      this.#connected(id, this.#rounds.open?.number);
      return;
    }
    entry.seq++;
    this.#hold(entry, undefined);
    if (entry.suspicion === undefined) this.#suspect(entry);
  }

  /** A VIP message: the user id to route it with, or undefined when it is held or dropped. */
  message(message: RoutedMessage): string | undefined {
    if (this.#closed) return undefined;
    let entry = this.#entries.get(identityKey(message.sender));
    if (entry === undefined) {
      // Every connection starts with its connect notification: a message from an unknown routing id
      // comes from a connection whose start was not seen. Remember it, so its empty frames are
      // never taken for a connect.
      entry = this.#add(message.sender, this.#o.authenticate ? 'unattributed' : 'attributed');
      if (!this.#o.authenticate) this.#announce(entry, entry.name);
    }
    entry.seq++;
    if (!this.#o.authenticate) return entry.name;
    if (entry.suspicion !== undefined || entry.status === 'pending') {
      this.#hold(entry, message);
      return undefined;
    }
    if (entry.status === 'unattributed') {
      this.#o.drop('unauthenticated');
      return undefined;
    }
    return (entry.admission as ZapAdmission).userId;
  }

  /** A delivery to `id` failed EHOSTUNREACH: find out (from a clean point) whether it is gone. */
  unreachable(id: Buffer): void {
    const entry = this.#entries.get(identityKey(id));
    if (entry !== undefined && entry.suspicion === undefined && entry.timer === undefined) this.#schedule(entry, 'check', 0);
  }

  // --- what the ZAP handler admits ----------------------------------------------------------

  admit(pending: PendingAdmission): void {
    this.#rounds.admit(pending);
  }

  // --- queries -------------------------------------------------------------------------------

  userFor(key: string): string | undefined {
    const e = this.#entries.get(key);
    if (e?.status !== 'attributed') return undefined;
    return this.#o.authenticate ? e.admission?.userId : e.name;
  }

  capabilitiesFor(key: string): ZapAdmission['capabilities'] {
    const e = this.#entries.get(key);
    return e?.status === 'attributed' ? e.admission?.capabilities : undefined;
  }

  stats(): PeerAttributionStats {
    let attributed = 0;
    let pending = 0;
    let unattributed = 0;
    for (const e of this.#entries.values()) {
      if (e.status === 'attributed') attributed++;
      else if (e.status === 'pending') pending++;
      else unattributed++;
    }
    return {
      attributed,
      pending,
      unattributed,
      suspect: this.#suspects.size,
      queuedAdmissions: this.#rounds.queued,
      outstandingAdmissions: this.#rounds.open?.outstanding ?? 0,
      tieMaxMs: this.#rounds.tieMaxMs,
      counters: { ...this.#counters },
    };
  }

  /** Releases every timer; no events, nothing answered. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const e of this.#entries.values()) this.#cancel(e);
    this.#entries.clear();
    this.#suspects.clear();
    this.#rounds.close();
  }

  // --- connections ---------------------------------------------------------------------------

  #add(id: Buffer, status: PeerEntry['status']): PeerEntry {
    const entry = new PeerEntry(id, status);
    this.#entries.set(entry.key, entry);
    return entry;
  }

  /** The connect notification of a new connection, read while round `roundAtRead` was open. */
  #connected(id: Buffer, roundAtRead: number | undefined): void {
    if (!this.#o.authenticate) {
      const entry = this.#add(id, 'attributed');
      entry.seq = 1;
      this.#announce(entry, entry.name);
      return;
    }
    const entry = this.#add(id, 'unattributed');
    entry.seq = 1;
    const tied = this.#rounds.tie(entry.name, entry, roundAtRead, (admission, round) => {
      entry.status = 'pending';
      entry.admission = admission;
      entry.round = round;
    });
    if (!tied) this.#count('connect without admission');
  }

  #hold(entry: PeerEntry, message: RoutedMessage | undefined): void {
    const event: HeldEvent = { seq: entry.seq, round: this.#rounds.open?.number, message };
    if (!entry.hold(event, this.#o.maxHeldEvents, this.#o.maxHeldBytes) && message !== undefined) this.#o.drop('held overflow');
  }

  #release(entry: PeerEntry): void {
    const user = entry.admission?.userId;
    for (const h of entry.takeHeld()) {
      if (h.message === undefined) continue;
      if (user === undefined) this.#o.drop('unauthenticated');
      else this.#o.message(h.message, user);
    }
  }

  #announce(entry: PeerEntry, user: string): void {
    entry.announced = true;
    this.#o.peerEvent({ type: 'peer-connected', peer: entry.id, user });
  }

  #announceGone(entry: PeerEntry): void {
    if (!entry.announced) return;
    entry.announced = false;
    this.#o.peerEvent({ type: 'peer-gone', peer: entry.id, reason: 'closed' });
  }

  /** The connection may not be (or may no longer be) the one its admission was for: no user, ever. */
  #unattribute(entry: PeerEntry, reason: string): void {
    this.#count(reason);
    for (const h of entry.takeHeld()) if (h.message !== undefined) this.#o.drop('unauthenticated');
    entry.status = 'unattributed';
    entry.admission = undefined;
    entry.round = undefined;
    this.#announceGone(entry);
  }

  // --- suspicion and liveness probes ---------------------------------------------------------

  #suspect(entry: PeerEntry): void {
    entry.suspicion = { fromRound: this.#rounds.open?.number ?? this.#rounds.last + 1, alive: 0, decideRound: undefined, tainted: false };
    this.#suspects.add(entry);
    this.#schedule(entry, 'suspect', this.#o.probeDelaysMs[0] ?? 0);
  }

  #schedule(entry: PeerEntry, kind: ProbeKind, ms: number): void {
    this.#cancel(entry);
    entry.timer = this.#clock.after(ms, () => this.#clock.defer(() => this.#probe(entry, kind)));
  }

  #cancel(entry: PeerEntry): void {
    if (entry.timer === undefined) return;
    this.#clock.cancel(entry.timer);
    entry.timer = undefined;
  }

  /** Sent from a fresh macrotask: every frame set read before it has been handled, so `seq` splits before from after. */
  #probe(entry: PeerEntry, kind: ProbeKind): void {
    entry.timer = undefined;
    if (this.#closed || this.#entries.get(entry.key) !== entry) return;
    const mark = entry.seq;
    const lastRound = this.#rounds.last;
    this.#count('probes');
    let sent: Promise<ProbeOutcome>;
    try {
      sent = this.#o.sendProbe(entry.id);
    } catch {
      sent = Promise.resolve('unknown');
    }
    void sent.then(
      (outcome) => this.#probed(entry, kind, mark, lastRound, outcome),
      () => this.#probed(entry, kind, mark, lastRound, 'unknown'),
    );
  }

  #probed(entry: PeerEntry, kind: ProbeKind, mark: number, lastRound: number, outcome: ProbeOutcome): void {
    if (this.#closed || this.#entries.get(entry.key) !== entry) return;
    if (outcome === 'gone') {
      this.#gone(entry, mark);
      return;
    }
    const s = entry.suspicion;
    if (s !== undefined) {
      if (kind !== 'suspect' || entry.timer !== undefined) return; // a newer series runs
      if (outcome === 'unknown' || (entry.held ?? []).some((h) => h.message === undefined && h.seq > mark)) {
        s.alive = 0; // another empty frame came after this probe (or no answer): start the series again
        this.#schedule(entry, 'suspect', this.#o.probeDelaysMs[0] ?? 0);
        return;
      }
      s.alive++;
      const next = this.#o.probeDelaysMs[s.alive];
      if (next !== undefined) {
        this.#schedule(entry, 'suspect', Math.max(0, next - (this.#o.probeDelaysMs[s.alive - 1] ?? 0)));
        return;
      }
      s.decideRound = lastRound;
      this.#decide(entry);
      return;
    }
    if (kind === 'check' && this.#rounds.waitingFor(entry.name)) this.#schedule(entry, 'check', this.#o.checkProbeMs);
  }

  /** Alive: keep the connection's attribution once every round that could have made a new one has closed clean. */
  #decide(entry: PeerEntry): void {
    const s = entry.suspicion;
    if (s === undefined || s.decideRound === undefined) return;
    const open = this.#rounds.open;
    if (open !== undefined && open.number <= s.decideRound) return; // #roundClosed calls again
    entry.suspicion = undefined;
    this.#suspects.delete(entry);
    // What came in while unexplained did not all fit in the hold: an empty frame after the last
    // probe (a new connection) may be among what was dropped, so the connection is not trusted.
    const overflowed = entry.overflowSeq !== undefined;
    if ((s.tainted || overflowed) && this.#o.authenticate && entry.status !== 'unattributed') {
      this.#logger.warn('router.attribution.contested', { identity: entry.name, overflowed });
      this.#unattribute(entry, overflowed ? 'attribution lost in overflow' : 'attribution contested');
    } else {
      entry.dropMarkers();
      if (entry.status === 'attributed') this.#release(entry);
      else if (entry.status === 'unattributed')
        for (const h of entry.takeHeld()) if (h.message !== undefined) this.#o.drop('unauthenticated');
      this.#schedule(entry, 'confirm', this.#o.confirmProbeMs);
    }
    this.#rounds.pump();
  }

  /**
   * No connection has this routing id (ROUTER_MANDATORY said so at the probe): forget it. What was
   * read after the probe came from a connection attached since: replay it as new.
   */
  #gone(entry: PeerEntry, mark: number): void {
    this.#cancel(entry);
    this.#entries.delete(entry.key);
    this.#suspects.delete(entry);
    entry.suspicion = undefined;
    this.#announceGone(entry);
    const lost = entry.overflowSeq !== undefined && entry.overflowSeq > mark;
    const held = entry.takeHeld();
    for (const h of held) if (h.message !== undefined && h.seq <= mark) this.#o.drop('sender gone');
    const after = held.filter((h) => h.seq > mark);
    if (lost || (after.length > 0 && after[0]?.message !== undefined)) {
      // Part of the new connection's start was not kept: it is known, never attributed.
      const fresh = this.#add(entry.id, 'unattributed');
      fresh.seq = after.length;
      for (const h of after) if (h.message !== undefined) this.#o.drop('unauthenticated');
      this.#count('replay incomplete');
    } else {
      for (const h of after) {
        if (h.message === undefined) {
          if (this.#entries.has(entry.key)) this.empty(entry.id);
          else this.#connected(entry.id, h.round);
        } else {
          const user = this.message(h.message);
          if (user !== undefined) this.#o.message(h.message, user);
        }
      }
    }
    this.#rounds.pump();
  }

  // --- admission rounds ----------------------------------------------------------------------

  /** A round closed: taint the suspects it could have fooled (if poisoned), commit or unattribute its connections. */
  #roundClosed(round: AdmissionRound<PeerEntry>): void {
    for (const e of this.#suspects) {
      const s = e.suspicion;
      if (
        s !== undefined &&
        round.poisoned &&
        s.fromRound <= round.number &&
        (s.decideRound === undefined || round.number <= s.decideRound)
      )
        s.tainted = true;
    }
    for (const e of round.matched) {
      if (this.#entries.get(e.key) !== e || e.status !== 'pending') continue;
      if (round.poisoned) {
        this.#logger.warn('router.admission.poisoned', { identity: e.name, round: round.number });
        this.#unattribute(e, 'admission round poisoned');
        continue;
      }
      e.status = 'attributed';
      e.round = undefined;
      this.#announce(e, (e.admission as ZapAdmission).userId);
      if (e.suspicion === undefined) this.#release(e);
    }
    for (const e of [...this.#suspects]) this.#decide(e);
  }

  /** Whether a known connection has this credential; each such connection is probed (a check) soon. */
  #credentialInUse(credential: string): boolean {
    let inUse = false;
    for (const e of this.#entries.values()) {
      if (e.admission === undefined || credentialOf(e.admission) !== credential) continue;
      inUse = true;
      if (e.suspicion === undefined && e.timer === undefined) this.#schedule(e, 'check', this.#o.checkProbeMs);
    }
    return inUse;
  }

  /** A pinned admission waits because its identity is in use: probe that connection now and then. */
  #holdIdentity(identity: string): void {
    const entry = this.#entries.get(keyOf(identity));
    if (entry !== undefined && entry.suspicion === undefined && entry.timer === undefined)
      this.#schedule(entry, 'check', this.#o.checkProbeMs);
  }

  #count(name: string): void {
    this.#counters[name] = (this.#counters[name] ?? 0) + 1;
  }
}

function keyOf(identity: string): string {
  return identityKey(textFrame(identity));
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
