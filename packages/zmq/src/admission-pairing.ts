import type { ZapAdmission } from './zap-contract.js';

/** A connected routing id as the router transport tracks it. */
export interface AdmittedPeer {
  readonly id: Buffer;
  admission: ZapAdmission | undefined;
}

interface WaitingAdmission {
  readonly admission: ZapAdmission;
  readonly settle: () => void;
  readonly cancel: () => void;
}

interface WaitingConnect {
  readonly peer: AdmittedPeer;
  readonly cancel: () => void;
}

export interface AdmissionPairingOptions {
  readonly timeoutMs: number;
  /** Called when an admission is attached to a connected peer. */
  readonly attached: (peer: AdmittedPeer, admission: ZapAdmission) => void;
  /** A connected peer waited `timeoutMs` and no admission came for it. */
  readonly expired?: (peer: AdmittedPeer) => void;
  /** Bumps a named counter (`admission timeout`, `admission ambiguous`...). */
  readonly count: (reason: string) => void;
}

/**
 * Pairs each ZAP admission with the ZMQ_ROUTER_NOTIFY connect of the peer it admitted
 * (TOOLCHAIN.md: zeromq.js exposes no per-message User-Id). The ZAP handler answers one request
 * at a time and waits for `admitted()` to settle, so at most one authenticated handshake is
 * between its admission and its connect notification at any moment. Either side may arrive
 * first (the notification travels through the router's receive loop, the admission through the
 * ZAP handler's code):
 * - admission first: it waits up to `timeoutMs` for the next connect;
 * - connect first: it waits up to `timeoutMs` for the next admission.
 * It never guesses: when more than one connect is waiting (a peer that needed no ZAP, such as
 * inproc, connected meanwhile) the admission is not attached and is counted `admission ambiguous`;
 * a connection dropped between admission and attach ends in `admission timeout`.
 */
export class AdmissionPairing {
  readonly #options: AdmissionPairingOptions;
  #admissions: WaitingAdmission[] = [];
  #connects: WaitingConnect[] = [];
  #closed = false;

  constructor(options: AdmissionPairingOptions) {
    this.#options = options;
  }

  admitted(admission: ZapAdmission): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#connects.length === 1) {
      const waiting = this.#connects.shift() as WaitingConnect;
      waiting.cancel();
      this.#attach(waiting.peer, admission);
      return Promise.resolve();
    }
    if (this.#connects.length > 1) {
      this.#options.count('admission ambiguous');
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const entry: WaitingAdmission = {
        admission,
        settle: resolve,
        cancel: deadline(this.#options.timeoutMs, () => {
          this.#admissions = this.#admissions.filter((a) => a !== entry);
          this.#options.count('admission timeout');
          resolve();
        }),
      };
      this.#admissions.push(entry);
    });
  }

  connected(peer: AdmittedPeer): void {
    if (this.#closed) return;
    const waiting = this.#admissions.shift();
    if (waiting !== undefined) {
      waiting.cancel();
      this.#attach(peer, waiting.admission);
      waiting.settle();
      return;
    }
    const entry: WaitingConnect = {
      peer,
      cancel: deadline(this.#options.timeoutMs, () => {
        this.#connects = this.#connects.filter((c) => c !== entry);
        this.#options.count('connect without admission');
        this.#options.expired?.(peer);
      }),
    };
    this.#connects.push(entry);
  }

  /** True while `peer` connected and waits for its admission. */
  isWaiting(peer: AdmittedPeer): boolean {
    return this.#connects.some((c) => c.peer === peer);
  }

  disconnected(peer: AdmittedPeer): void {
    const i = this.#connects.findIndex((c) => c.peer === peer);
    if (i < 0) return;
    (this.#connects[i] as WaitingConnect).cancel();
    this.#connects.splice(i, 1);
  }

  /** Releases every timer and settles every waiting admission. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const a of this.#admissions) {
      a.cancel();
      a.settle();
    }
    for (const c of this.#connects) c.cancel();
    this.#admissions = [];
    this.#connects = [];
  }

  #attach(peer: AdmittedPeer, admission: ZapAdmission): void {
    peer.admission = admission;
    this.#options.attached(peer, admission);
  }
}

/**
 * Runs `expire` once `ms` have passed *and* the event loop has polled for I/O since: after a busy
 * stretch, timers run before the poll phase, and a connect notification already waiting in the
 * socket must win over a timeout that is only late because the loop was. Returns a cancel function.
 */
function deadline(ms: number, expire: () => void): () => void {
  let immediate: NodeJS.Immediate | undefined;
  const timer = setTimeout(() => {
    immediate = setImmediate(expire);
  }, ms);
  return () => {
    clearTimeout(timer);
    if (immediate !== undefined) clearImmediate(immediate);
  };
}
