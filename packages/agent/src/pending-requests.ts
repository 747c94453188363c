import { ClosedError, identityKey, textFrame, TimeoutError, type Frame } from '@vip/protocol';

/** Matches text whose UTF-8 bytes are its code units (ASCII), so `identityKey(textFrame(id)) === id`. */
const ASCII = /^[\x00-\x7f]*$/;

/**
 * The key of a message id: `identityKey` of the id frame (a text id: of its UTF-8 frame). Our own
 * ids (`createRpcIdGenerator`) are ASCII, where that is the text itself: no frame is built for them.
 */
export function pendingKey(id: Frame | string): string {
  if (typeof id !== 'string') return identityKey(id);
  return ASCII.test(id) ? id : identityKey(textFrame(id));
}

/** A request's name in its TimeoutError; a function is only called when the request times out. */
export type OperationName = string | (() => string);

export interface PendingOptions {
  /**
   * Who must answer: the `pendingKey` of the peer the request went to ('' = the router). A reply
   * from anyone else neither settles nor fails it (`Settlement` 'wrong-peer').
   */
  readonly from: string;
  /** Fails the request with a TimeoutError naming `operation` after this many ms (0 = never). */
  readonly timeoutMs: number;
  /** Names the operation and peer in a TimeoutError, e.g. `RPC call "srv".echo`. */
  readonly operation: OperationName;
  readonly signal?: AbortSignal | undefined;
  /** Called on every settle (resolve, reject, timeout), e.g. to drop batch members. */
  readonly onSettle?: () => void;
  /** The subsystem of the request, named in the error `rejectPeer` makes. */
  readonly subsystem?: string | undefined;
}

/**
 * A timeout found by a scan may be late by up to this much when deadlines crowd (the timer is not
 * re-armed sooner than this after it fired), so a scan of the pending requests runs at most
 * ~100 times a second however many there are.
 */
const MIN_RESCAN_MS = 10;
/** Node timers have millisecond granularity: a deadline less than this ahead counts as reached. */
const EARLY_MS = 1;

/**
 * What a reply did to the pending requests: `settled` the one under its id, found `unknown` (none
 * pending: late, or never asked for), or came from a `wrong-peer` (another peer than the one asked,
 * who may have guessed or seen the id: the request stays pending).
 */
export type Settlement = 'settled' | 'unknown' | 'wrong-peer';

/** `from` of a local failure (send failed, batch torn down): no peer involved. */
export const LOCAL = undefined;

class Entry {
  constructor(
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: Error) => void,
    /** `performance.now()` deadline; 0 = none. */
    readonly deadline: number,
    readonly options: PendingOptions,
    readonly cleanup: (() => void) | undefined,
  ) {}
}

/**
 * Requests waiting for a reply, keyed by message id (`identityKey` of the id frame), each bound to
 * the peer it was sent to: only that peer's reply settles it (a VIP error from the router may
 * fail any request, as the router reports delivery failures).
 *
 * One timer serves every timeout: it is armed for the earliest deadline, so the usual request (same
 * timeout as the ones before it, hence a later deadline) costs no timer call at all. When it fires,
 * the expired requests fail and it is armed for the next deadline. It keeps the process alive only
 * while a request with a timeout is pending, as a per-request timer would; `rejectAll` (on stop)
 * releases it.
 */
export class PendingRequests {
  readonly #entries = new Map<string, Entry>();
  /** `from` of a peer -> keys of the requests pending with it (peer-addressed requests only). */
  readonly #byPeer = new Map<string, Set<string>>();
  #timer: NodeJS.Timeout | undefined;
  /** When `#timer` fires (`performance.now()` ms); Infinity when none is armed. */
  #fireAt = Infinity;
  /** Pending requests with a deadline. */
  #timed = 0;

  get size(): number {
    return this.#entries.size;
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  add<T>(key: string, options: PendingOptions): Promise<T> {
    if (options.signal?.aborted) return Promise.reject(abortReason(options.signal, options.operation));
    let entry!: Entry;
    const promise = new Promise<T>((resolve, reject) => {
      const deadline = options.timeoutMs > 0 ? performance.now() + options.timeoutMs : 0;
      entry = new Entry(resolve as (v: unknown) => void, reject, deadline, options, this.#cleanup(key, options));
    });
    const previous = this.#entries.get(key);
    if (previous !== undefined) this.#release(key, previous);
    this.#entries.set(key, entry);
    const peer = options.from;
    if (peer !== '') {
      let keys = this.#byPeer.get(peer);
      if (keys === undefined) this.#byPeer.set(peer, (keys = new Set()));
      keys.add(key);
    }
    if (entry.deadline !== 0) this.#arm(entry.deadline);
    return promise;
  }

  /** Resolves the request under `key` when `from` (a `pendingKey`, '' = the router) is the peer it went to. */
  resolve(key: string, value: unknown, from: string): Settlement {
    const e = this.#entries.get(key);
    if (!e) return 'unknown';
    if (e.options.from !== from) return 'wrong-peer';
    this.#take(key);
    e.resolve(value);
    return 'settled';
  }

  /**
   * Fails the request under `key`: `from` undefined for a local failure, '' for a VIP error from
   * the router (delivery failures of any request), else only from the peer the request went to.
   */
  reject(key: string, error: Error, from?: string): Settlement {
    const e = this.#entries.get(key);
    if (!e) return 'unknown';
    if (from !== undefined && from !== '' && e.options.from !== from) return 'wrong-peer';
    this.#take(key);
    e.reject(error);
    return 'settled';
  }

  /**
   * Fails every request pending with `peer` (its `pendingKey`; the router said it is gone: its
   * reply cannot come), each with `error(options)`; returns how many. Only requests pending now:
   * one made later is not affected, whatever happened to the peer before.
   */
  rejectPeer(peer: string, error: (options: PendingOptions) => Error): number {
    const keys = this.#byPeer.get(peer);
    if (keys === undefined) return 0;
    let n = 0;
    for (const key of [...keys]) {
      const e = this.#entries.get(key);
      if (e !== undefined && this.reject(key, error(e.options), LOCAL) === 'settled') n++;
    }
    return n;
  }

  rejectAll(error: Error): void {
    for (const key of [...this.#entries.keys()]) this.reject(key, error, LOCAL);
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#fireAt = Infinity;
  }

  /** The abort listener and settle hook of a request; none (no closures) for a plain one, the usual case. */
  #cleanup(key: string, options: PendingOptions): (() => void) | undefined {
    const { signal, onSettle } = options;
    if (signal === undefined) return onSettle;
    const onAbort = (): void => {
      this.reject(key, abortReason(signal, options.operation), LOCAL);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    return () => {
      signal.removeEventListener('abort', onAbort);
      onSettle?.();
    };
  }

  #take(key: string): Entry | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    this.#entries.delete(key);
    this.#release(key, e);
    return e;
  }

  /** Drops `e`'s share of the timer, its abort listener and its place in the peer index. */
  #release(key: string, e: Entry): void {
    if (e.deadline !== 0 && --this.#timed === 0) this.#timer?.unref();
    const peer = e.options.from;
    if (peer !== '') {
      const keys = this.#byPeer.get(peer);
      if (keys !== undefined && keys.delete(key) && keys.size === 0) this.#byPeer.delete(peer);
    }
    e.cleanup?.();
  }

  #arm(deadline: number): void {
    if (++this.#timed === 1) this.#timer?.ref();
    if (deadline >= this.#fireAt) return; // the armed timer fires first, then re-arms for this one
    clearTimeout(this.#timer);
    this.#schedule(deadline, performance.now());
  }

  #schedule(at: number, now: number): void {
    this.#fireAt = at;
    this.#timer = setTimeout(this.#onTimer, Math.max(1, Math.ceil(at - now)));
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#fireAt = Infinity;
    const now = performance.now();
    const expired: string[] = [];
    for (const [key, e] of this.#entries) if (e.deadline !== 0 && e.deadline <= now + EARLY_MS) expired.push(key);
    for (const key of expired) {
      const e = this.#entries.get(key);
      if (e !== undefined && e.deadline !== 0 && e.deadline <= now + EARLY_MS) {
        this.reject(key, new TimeoutError(operationName(e.options.operation), e.options.timeoutMs), LOCAL);
      }
    }
    if (this.#timed === 0) return;
    let next = Infinity;
    for (const e of this.#entries.values()) if (e.deadline !== 0 && e.deadline < next) next = e.deadline;
    next = Math.max(next, now + MIN_RESCAN_MS);
    if (next >= this.#fireAt) return; // a settle hook added a request and armed the timer sooner
    clearTimeout(this.#timer);
    this.#schedule(next, now);
  };
}

function operationName(operation: OperationName): string {
  return typeof operation === 'string' ? operation : operation();
}

function abortReason(signal: AbortSignal, operation: OperationName): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error && r.name !== 'AbortError') return r;
  return new ClosedError(`${operationName(operation)} (aborted)`);
}
