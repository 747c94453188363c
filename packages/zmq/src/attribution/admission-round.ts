import type { ZapAdmission } from '../zap-contract.js';

/**
 * One admission answered with a 200 and not yet tied to a connection.
 * - `outstanding`: its connection may still appear (from the moment it is recorded, before the 200);
 * - `matched`: a connect notification on its pinned identity (or, unpinned, on any new routing id)
 *   was tied to it;
 * - `accounted`: the round closed with it counted against a connection nobody could explain;
 * - `expired`: nothing came in time (connection dropped between the 200 and its attach, a
 *   duplicate routing id libzmq refused, or a connection with a routing id it could not use);
 * - `withdrawn`: the 200 never went out (`gone`, `declined`...), so it admits nothing.
 */
export type CandidateState = 'outstanding' | 'matched' | 'accounted' | 'expired' | 'withdrawn';

export interface Candidate {
  readonly admission: ZapAdmission;
  /** The identity the auth entry pins, or undefined (unpinned: any routing id). */
  readonly pin: string | undefined;
  state: CandidateState;
  timer: unknown;
  /** When it was recorded (its 200 went out right after). */
  readonly since: number;
}

/**
 * A round of admissions answered together. Rounds run one at a time: the next opens only when
 * this one is closed, so a connection that appears while a round is open can only belong to one
 * of its candidates (or to a candidate that expired earlier: the timing assumption, README).
 * A round holds either one unpinned candidate or pinned candidates of distinct identities, so a
 * connect notification fits at most one candidate.
 *
 * It closes once every candidate is accounted for: matched to a connection, or balanced by a
 * connection that fitted no candidate (`unexplained`: each connection belongs to exactly one
 * candidate, so such a connection used up a candidate that will never match). It is **clean**
 * when no candidate expired and no more connections appeared than it had candidates; then every
 * connection matched to a pinned candidate is that candidate's (an honest client uses its own
 * identity, and a connection taking its routing id first would leave some candidate unaccounted
 * for). Otherwise it is **poisoned**: its matched connections get no user.
 */
export class AdmissionRound<P = unknown> {
  readonly number: number;
  readonly unpinned: boolean;
  readonly candidates: Candidate[] = [];
  /** The connections tied to its candidates, in the order they appeared. */
  readonly matched: P[] = [];
  /** Answers sent to the ZAP handler whose outcome is not known yet. */
  answering = 0;
  /** Connect notifications in this round that fitted no outstanding candidate. */
  unexplained = 0;
  expired = 0;
  closed = false;
  poisoned = false;

  constructor(number: number, unpinned: boolean) {
    this.number = number;
    this.unpinned = unpinned;
  }

  /** Whether a newly answered admission with this pin may join (the answer is decided again, see ZapHandler). */
  admits(pin: string | undefined): boolean {
    if (this.unpinned) return pin === undefined && this.candidates.length === 0;
    return pin !== undefined && !this.candidates.some((c) => c.pin === pin && c.state !== 'withdrawn');
  }

  /** The outstanding candidate a connect notification on `identity` fits, if exactly one does. */
  fitting(identity: string): Candidate | undefined {
    let found: Candidate | undefined;
    for (const c of this.candidates) {
      if (c.state !== 'outstanding' || (c.pin !== undefined && c.pin !== identity)) continue;
      if (found !== undefined) return undefined;
      found = c;
    }
    return found;
  }

  get outstanding(): number {
    let n = 0;
    for (const c of this.candidates) if (c.state === 'outstanding') n++;
    return n;
  }

  /** True when every answer is known and every candidate is accounted for. */
  get complete(): boolean {
    return this.answering === 0 && this.outstanding <= this.unexplained;
  }

  /** Marks the round closed; returns the candidates it stopped waiting for (their timers to cancel). */
  close(): Candidate[] {
    const outstanding = this.candidates.filter((c) => c.state === 'outstanding');
    this.poisoned = this.expired > 0 || this.unexplained > outstanding.length;
    for (const c of outstanding) c.state = 'accounted';
    this.closed = true;
    return outstanding;
  }
}
