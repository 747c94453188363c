import { silentLogger, type Logger } from '@vip/protocol';
import type { AdmissionAnswer, PendingAdmission, ZapAdmission } from '../zap-contract.js';
import { nextBatch, nextWake, Strikes, type QueuedAdmission } from './admission-queue.js';
import { AdmissionRound, type Candidate } from './admission-round.js';
import type { Clock } from './clock.js';

export interface AdmissionRoundsOptions {
  readonly admissionTimeoutMs: number;
  readonly maxRoundSize: number;
  readonly unpinnedWaitMs: number;
  readonly maxQueuedAdmissions: number;
  readonly maxAdmissionWaitMs: number;
}

/** What the rounds need from the routing ids side (PeerAttribution). */
export interface RoundPeers<P> {
  /** A connection with this routing id is known (live, or not yet proven gone). */
  known(identity: string): boolean;
  /** A known connection was admitted with this credential (`mechanism:credential`); probe them. */
  credentialInUse(credential: string): boolean;
  /** Routing ids whose last empty frame is not explained yet. */
  suspects(): number;
  /** A pinned admission waits because its identity is in use (probe that connection). */
  held(identity: string): void;
  /** A round closed (clean or poisoned): commit or unattribute its connections. */
  closed(round: AdmissionRound<P>): void;
}

/**
 * The admissions the ZAP handler hands over, queued and answered in rounds, one round open at a
 * time (AdmissionRound, README "Peer attribution"). Each candidate is recorded before its 200
 * goes out and expires `admissionTimeoutMs` later if no connection was tied to it.
 */
export class AdmissionRounds<P> {
  readonly #o: AdmissionRoundsOptions;
  readonly #peers: RoundPeers<P>;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #count: (name: string) => void;
  readonly #queue: QueuedAdmission[] = [];
  readonly #strikes = new Strikes();
  #open: AdmissionRound<P> | undefined;
  #last = 0;
  #pumpQueued = false;
  #wake: { at: number; handle: unknown } | undefined;
  #closed = false;
  #tieMaxMs = 0;

  constructor(
    options: AdmissionRoundsOptions,
    peers: RoundPeers<P>,
    clock: Clock,
    count: (name: string) => void,
    logger: Logger = silentLogger,
  ) {
    this.#o = options;
    this.#peers = peers;
    this.#clock = clock;
    this.#count = count;
    this.#logger = logger;
  }

  /** The round whose candidates are being answered or tied, if any. */
  get open(): AdmissionRound<P> | undefined {
    return this.#open;
  }

  /** The number of the last round opened (0: none yet). */
  get last(): number {
    return this.#last;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** The longest an admission waited between its 200 and its connection's connect notification. */
  get tieMaxMs(): number {
    return this.#tieMaxMs;
  }

  /** An identity some queued admission pins. */
  waitingFor(identity: string): boolean {
    return this.#queue.some((q) => q.pin === identity);
  }

  admit(pending: PendingAdmission): void {
    if (this.#closed) {
      pending.decline('router closing');
      return;
    }
    if (this.#queue.length >= this.#o.maxQueuedAdmissions) {
      this.#count('admission queue full');
      pending.decline('too many admissions waiting');
      return;
    }
    const a = pending.admission;
    this.#queue.push({ pending, pin: a.identity, credential: credentialOf(a), arrived: this.#clock.now() });
    this.pump();
  }

  /**
   * A connect notification on a new routing id, read while round `roundAtRead` was open. When it
   * fits a candidate, `tied` gets the candidate's admission (before the round may close and
   * commit it); false when it fits none (the connection gets no user).
   */
  tie(
    identity: string,
    peer: P,
    roundAtRead: number | undefined,
    tied: (admission: ZapAdmission, round: AdmissionRound<P>) => void,
  ): boolean {
    const round = this.#open;
    if (round === undefined || round.number !== roundAtRead) return false;
    const candidate = round.fitting(identity);
    if (candidate === undefined) {
      round.unexplained++;
    } else {
      candidate.state = 'matched';
      this.#clock.cancel(candidate.timer);
      this.#tieMaxMs = Math.max(this.#tieMaxMs, this.#clock.now() - candidate.since);
      round.matched.push(peer);
      tied(candidate.admission, round);
    }
    this.#check(round);
    return candidate !== undefined;
  }

  /** Look at the queue again soon (something it waits for may have changed). */
  pump(): void {
    if (this.#pumpQueued || this.#closed) return;
    this.#pumpQueued = true;
    this.#clock.defer(() => {
      this.#pumpQueued = false;
      this.#openRound();
    });
  }

  /** Releases the timers and declines what is queued. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of this.#open?.candidates ?? []) this.#clock.cancel(c.timer);
    if (this.#wake) this.#clock.cancel(this.#wake.handle);
    this.#open = undefined;
    for (const q of this.#queue.splice(0)) q.pending.decline('router closed');
  }

  #openRound(): void {
    if (this.#closed || this.#open !== undefined || this.#queue.length === 0) return;
    const now = this.#clock.now();
    this.#expireWaiting(now);
    const ctx = {
      now,
      maxRoundSize: this.#o.maxRoundSize,
      unpinnedWaitMs: this.#o.unpinnedWaitMs,
      suspects: this.#peers.suspects(),
      strikes: this.#strikes,
      known: (identity: string) => this.#peers.known(identity),
      credentialInUse: (credential: string) => this.#peers.credentialInUse(credential),
      held: (identity: string) => this.#peers.held(identity),
    };
    const batch = nextBatch(this.#queue, ctx);
    if (batch.length === 0) {
      this.#wakeAt(nextWake(this.#queue, ctx, this.#o.maxAdmissionWaitMs));
      return;
    }
    const round = new AdmissionRound<P>(++this.#last, batch[0]?.pin === undefined);
    this.#open = round;
    this.#count('rounds');
    for (const q of batch) this.#queue.splice(this.#queue.indexOf(q), 1);
    for (const q of batch) this.#answer(round, q);
    this.#check(round);
  }

  /** Answers one admission; its candidate is recorded by `accept`, before the 200 goes out. */
  #answer(round: AdmissionRound<P>, q: QueuedAdmission): void {
    let candidate: Candidate | undefined;
    round.answering++;
    const accept = (admission: ZapAdmission): boolean => {
      const pin = admission.identity;
      if (this.#closed || round.closed || pin !== q.pin || !round.admits(pin)) return false;
      if (pin !== undefined && this.#peers.known(pin)) return false;
      const c: Candidate = { admission, pin, state: 'outstanding', timer: undefined, since: this.#clock.now() };
      c.timer = this.#clock.after(this.#o.admissionTimeoutMs, () => this.#clock.defer(() => this.#expire(round, c)));
      round.candidates.push(c);
      candidate = c;
      return true;
    };
    let answered: Promise<AdmissionAnswer>;
    try {
      answered = q.pending.answer(accept);
    } catch {
      answered = Promise.resolve('closed');
    }
    void answered.then(
      (answer) => this.#answered(round, candidate, answer),
      () => this.#answered(round, candidate, 'closed'),
    );
  }

  #answered(round: AdmissionRound<P>, candidate: Candidate | undefined, answer: AdmissionAnswer): void {
    round.answering--;
    this.#count(`admission ${answer}`);
    if (answer !== 'sent' && candidate?.state === 'outstanding') {
      candidate.state = 'withdrawn';
      this.#clock.cancel(candidate.timer);
    }
    this.#check(round);
  }

  #expire(round: AdmissionRound<P>, c: Candidate): void {
    if (c.state !== 'outstanding' || this.#closed) return;
    c.state = 'expired';
    round.expired++;
    const backoffMs = this.#strikes.strike(credentialOf(c.admission), this.#clock.now());
    this.#count('admission timeout');
    this.#logger.warn('router.admission.timeout', {
      userId: c.admission.userId,
      identity: c.admission.identity,
      address: c.admission.address,
      backoffMs,
    });
    this.#check(round);
  }

  #check(round: AdmissionRound<P>): void {
    if (round.closed || !round.complete) return;
    for (const c of round.close()) this.#clock.cancel(c.timer);
    if (this.#open === round) this.#open = undefined;
    if (round.poisoned) this.#count('rounds poisoned');
    this.#peers.closed(round);
    this.pump();
  }

  #expireWaiting(now: number): void {
    for (let i = this.#queue.length - 1; i >= 0; i--) {
      const q = this.#queue[i] as QueuedAdmission;
      if (now - q.arrived < this.#o.maxAdmissionWaitMs) continue;
      this.#queue.splice(i, 1);
      this.#count('admission waited too long');
      q.pending.decline('waited too long for its routing id');
    }
  }

  #wakeAt(at: number | undefined): void {
    if (at === undefined || (this.#wake !== undefined && this.#wake.at <= at)) return;
    if (this.#wake) this.#clock.cancel(this.#wake.handle);
    const handle = this.#clock.after(Math.max(0, at - this.#clock.now()), () => {
      this.#wake = undefined;
      this.pump();
    });
    this.#wake = { at, handle };
  }
}

export function credentialOf(a: ZapAdmission): string {
  return `${a.mechanism}:${a.credential}`;
}
