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

interface Entry {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout | undefined;
  readonly cleanup: (() => void) | undefined;
}

export interface PendingOptions {
  /** Fails the request with a TimeoutError naming `operation` after this many ms (0 = never). */
  readonly timeoutMs: number;
  /** Names the operation and peer in a TimeoutError, e.g. `RPC call "srv".echo`. */
  readonly operation: string;
  readonly signal?: AbortSignal | undefined;
  /** Called on every settle (resolve, reject, timeout), e.g. to drop batch members. */
  readonly onSettle?: () => void;
}

/**
 * Requests waiting for a reply, keyed by message id (`identityKey` of the id frame). Owns one
 * timer per request; `rejectAll` on stop releases every timer.
 */
export class PendingRequests {
  readonly #entries = new Map<string, Entry>();

  get size(): number {
    return this.#entries.size;
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  add<T>(key: string, options: PendingOptions): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (options.signal?.aborted) {
        reject(abortReason(options.signal, options.operation));
        return;
      }
      const timer =
        options.timeoutMs > 0
          ? setTimeout(() => this.reject(key, new TimeoutError(options.operation, options.timeoutMs)), options.timeoutMs)
          : undefined;
      this.#entries.set(key, { resolve: resolve as (v: unknown) => void, reject, timer, cleanup: this.#cleanup(key, options) });
    });
  }

  /** Resolves the request; false when none is pending under `key`. */
  resolve(key: string, value: unknown): boolean {
    const e = this.#take(key);
    if (!e) return false;
    e.resolve(value);
    return true;
  }

  reject(key: string, error: Error): boolean {
    const e = this.#take(key);
    if (!e) return false;
    e.reject(error);
    return true;
  }

  rejectAll(error: Error): void {
    for (const key of [...this.#entries.keys()]) this.reject(key, error);
  }

  /** The abort listener and settle hook of a request; none (no closures) for a plain one, the usual case. */
  #cleanup(key: string, options: PendingOptions): (() => void) | undefined {
    const { signal, onSettle } = options;
    if (signal === undefined) return onSettle;
    const onAbort = (): void => {
      this.reject(key, abortReason(signal, options.operation));
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
    if (e.timer) clearTimeout(e.timer);
    e.cleanup?.();
    return e;
  }
}

function abortReason(signal: AbortSignal, operation: string): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error && r.name !== 'AbortError') return r;
  return new ClosedError(`${operation} (aborted)`);
}
