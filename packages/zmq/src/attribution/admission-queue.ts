import type { PendingAdmission } from '../zap-contract.js';

export interface QueuedAdmission {
  readonly pending: PendingAdmission;
  /** The identity its auth entry pins (undefined: unpinned). */
  readonly pin: string | undefined;
  readonly credential: string;
  readonly arrived: number;
}

/** What choosing the next round needs to know about the routing ids in use. */
export interface BatchContext {
  readonly now: number;
  readonly maxRoundSize: number;
  /** An unpinned admission waits this long for unexplained empty frames to be resolved. */
  readonly unpinnedWaitMs: number;
  /** Routing ids whose last empty frame is not explained yet. */
  readonly suspects: number;
  /** A connection with this routing id is known (live, or not yet proven gone). */
  known(identity: string): boolean;
  /**
   * A known connection was admitted with this credential: an unpinned admission from it may be
   * that client reconnecting with the same routing id, before its old connection is seen to go.
   */
  credentialInUse(credential: string): boolean;
  /** Told about a pinned admission held because its identity is in use. */
  held(identity: string): void;
  strikes: Strikes;
}

/**
 * The next round: one unpinned admission (alone: it fits any routing id), or up to
 * `maxRoundSize` pinned admissions for distinct identities that are not in use. An unpinned
 * admission goes first once no empty frame is unexplained and no connection of its credential is
 * known (its client may be reconnecting with the routing id in question: a connection that
 * attaches while the old one is still there is refused by libzmq for good), or once it has
 * waited `unpinnedWaitMs` (so a peer sending empty frames, or a second client on the same key,
 * cannot keep unpinned clients out); meanwhile pinned rounds go on. A credential whose admission
 * expired recently waits out its back-off and then goes alone.
 */
export function nextBatch(queue: readonly QueuedAdmission[], ctx: BatchContext): QueuedAdmission[] {
  for (const q of queue) {
    if (q.pin !== undefined || ctx.strikes.waiting(q.credential, ctx.now)) continue;
    const waited = ctx.now - q.arrived >= ctx.unpinnedWaitMs;
    if (waited || (ctx.suspects === 0 && !ctx.credentialInUse(q.credential))) return [q];
    break;
  }
  const batch: QueuedAdmission[] = [];
  const pins = new Set<string>();
  for (const q of queue) {
    if (q.pin === undefined || pins.has(q.pin) || ctx.strikes.waiting(q.credential, ctx.now)) continue;
    pins.add(q.pin); // the first one queued for an identity goes first
    if (ctx.known(q.pin)) {
      ctx.held(q.pin);
      continue;
    }
    if (ctx.strikes.struck(q.credential, ctx.now)) {
      if (batch.length === 0) return [q];
      continue;
    }
    batch.push(q);
    if (batch.length >= ctx.maxRoundSize) break;
  }
  return batch;
}

/** When the queue needs another look although nothing happened: the earliest wait that ends. */
export function nextWake(
  queue: readonly QueuedAdmission[],
  ctx: Pick<BatchContext, 'now' | 'unpinnedWaitMs' | 'strikes'>,
  maxWaitMs: number,
): number | undefined {
  let wake: number | undefined;
  const consider = (t: number) => {
    if (t > ctx.now && (wake === undefined || t < wake)) wake = t;
  };
  for (const q of queue) {
    consider(q.arrived + maxWaitMs);
    if (q.pin === undefined) consider(q.arrived + ctx.unpinnedWaitMs);
    const until = ctx.strikes.until(q.credential);
    if (until !== undefined) consider(until);
  }
  return wake;
}

interface Strike {
  count: number;
  until: number;
  last: number;
}

/**
 * Credentials whose admission expired unmatched. Such an expiry poisons its round and holds up
 * every other admission for the admission timeout, so the credential is made to wait (1 s,
 * doubling to 60 s) and then answered alone until it has been clean for ten minutes.
 */
export class Strikes {
  readonly #strikes = new Map<string, Strike>();
  static readonly FIRST_MS = 1_000;
  static readonly MAX_MS = 60_000;
  static readonly FORGET_MS = 600_000;

  strike(credential: string, now: number): number {
    this.#prune(now);
    const s = this.#strikes.get(credential) ?? { count: 0, until: 0, last: 0 };
    s.count += 1;
    s.last = now;
    s.until = now + Math.min(Strikes.MAX_MS, Strikes.FIRST_MS * 2 ** Math.min(s.count - 1, 16));
    this.#strikes.set(credential, s);
    return s.until - now;
  }

  waiting(credential: string, now: number): boolean {
    const s = this.#strikes.get(credential);
    return s !== undefined && s.until > now;
  }

  struck(credential: string, now: number): boolean {
    const s = this.#strikes.get(credential);
    return s !== undefined && now - s.last < Strikes.FORGET_MS;
  }

  until(credential: string): number | undefined {
    return this.#strikes.get(credential)?.until;
  }

  get size(): number {
    return this.#strikes.size;
  }

  #prune(now: number): void {
    for (const [k, s] of this.#strikes) if (now - s.last >= Strikes.FORGET_MS) this.#strikes.delete(k);
  }
}
