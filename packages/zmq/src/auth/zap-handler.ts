import { ClosedError, TransportError, silentLogger } from '@vip/protocol';
import type { Logger } from '@vip/protocol';
import { Router } from 'zeromq';
import type { Context } from 'zeromq';
import type { AdmissionSink, ZapAdmission } from '../zap-contract.js';
import { RefusalDelays } from '@vip/auth';
import type { Authenticator, PendingAuthStore, RefusalDelayOptions } from '@vip/auth';
import { parseZapRequest, zapReply } from './zap-request.js';
import type { ZapRequest } from './zap-request.js';

/** The RFC 27 endpoint libzmq asks, in the context of the socket being authenticated. */
export const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';

export interface ZapRefusal {
  readonly address: string;
  readonly mechanism: string;
  readonly credential: string;
  readonly reason: 'denied' | 'unknown';
  /** How long the `400` waits (PROTOCOL.md 5.4). */
  readonly delayMs: number;
}

export interface ZapHandlerOptions {
  /** Decides each request; keep it current with an AuthFileWatcher. */
  readonly authenticator: Authenticator;
  /** Told about each admission; the next admission waits until it settles (zap-contract.ts). */
  readonly admissionSink: AdmissionSink;
  /** Where refused unknown credentials are recorded for `vipctl auth approve` (optional). */
  readonly pending?: PendingAuthStore;
  /** The zeromq context of the router socket (default: zeromq.js's shared context). */
  readonly context?: Context;
  readonly logger?: Logger;
  readonly refusalDelay?: RefusalDelayOptions;
  /** Upper bound on waiting for `admissionSink.admitted` (default 10 s) so one lost peer cannot stall the rest. */
  readonly admissionTimeoutMs?: number;
  /** Refusals waiting for their delayed reply; beyond this a refusal is answered at once (default 10,000). */
  readonly maxDelayedReplies?: number;
  /** Observer for each refusal (metrics, tests). */
  readonly onRefusal?: (refusal: ZapRefusal) => void;
}

export interface ZapHandlerStats {
  readonly admitted: number;
  readonly refused: number;
  readonly malformed: number;
  /** Refusals whose delayed 400 is still due. */
  readonly delayedReplies: number;
  /** Admissions received, not yet answered (one is answered at a time). */
  readonly queuedAdmissions: number;
}

/**
 * The ZAP handler: a ROUTER at `inproc://zeromq.zap.01` answering libzmq's authentication
 * requests for sockets in the same context (PROTOCOL.md 5.4, TOOLCHAIN.md).
 *
 * - Admissions are answered one at a time: reply 200 with the user id, then wait for
 *   `admissionSink.admitted()` (the router transport pairs it with the next connect
 *   notification) before answering the next admission.
 * - Refusals never wait behind admissions: an unknown credential is recorded as pending, and its
 *   400 is delayed per source address (random first delay, doubling, capped).
 * - Malformed requests are answered 400/500 (or dropped when they cannot be answered) and counted.
 * - Replies go out one at a time (a zeromq.js socket rejects a concurrent send with EBUSY).
 *
 * Start it before the router binds and use `zapEnforceDomain: true` on the router, or a CURVE
 * client can be admitted with no handler listening (fail-open).
 */
export class ZapHandler {
  readonly #options: ZapHandlerOptions;
  readonly #logger: Logger;
  readonly #delays: RefusalDelays;
  readonly #admissionTimeoutMs: number;
  readonly #maxDelayedReplies: number;
  #socket: Router | undefined;
  #started: Promise<void> | undefined;
  #closed: Promise<void> | undefined;
  #receiving: Promise<void> | undefined;
  #sendChain: Promise<void> = Promise.resolve();
  readonly #admissions: ZapRequest[] = [];
  /** Aborted by close(): stops waiting for the admission sink. */
  readonly #closing = new AbortController();
  #admitting: Promise<void> | undefined;
  readonly #delayed = new Set<NodeJS.Timeout>();
  #stats = { admitted: 0, refused: 0, malformed: 0 };

  constructor(options: ZapHandlerOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#delays = new RefusalDelays(options.refusalDelay);
    this.#admissionTimeoutMs = options.admissionTimeoutMs ?? 10_000;
    this.#maxDelayedReplies = options.maxDelayedReplies ?? 10_000;
  }

  /** Binds the ZAP endpoint; resolves when libzmq can ask. Idempotent. */
  start(): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError('ZAP handler'));
    return (this.#started ??= this.#bind());
  }

  stats(): ZapHandlerStats {
    return { ...this.#stats, delayedReplies: this.#delayed.size, queuedAdmissions: this.#admissions.length };
  }

  /** Stops answering and unbinds; delayed refusals are dropped. Idempotent. */
  close(): Promise<void> {
    return (this.#closed ??= this.#shutdown());
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #bind(): Promise<void> {
    const socket = new Router({ linger: 0, ...(this.#options.context ? { context: this.#options.context } : {}) });
    try {
      await socket.bind(ZAP_ENDPOINT);
    } catch (err) {
      socket.close();
      throw new TransportError(`bind ${ZAP_ENDPOINT} failed (is another ZAP handler running in this context?)`, { cause: err });
    }
    this.#socket = socket;
    this.#receiving = this.#receiveLoop(socket);
    this.#logger.debug('zap.started', { endpoint: ZAP_ENDPOINT });
  }

  async #shutdown(): Promise<void> {
    this.#closing.abort();
    await this.#started?.catch(() => undefined); // a failed start has nothing to release
    for (const timer of this.#delayed) clearTimeout(timer);
    this.#delayed.clear();
    this.#admissions.length = 0;
    this.#socket?.close();
    await this.#receiving;
    await this.#admitting;
    await this.#sendChain;
    this.#delays.clear();
  }

  async #receiveLoop(socket: Router): Promise<void> {
    while (!socket.closed) {
      let frames: Buffer[];
      try {
        frames = await socket.receive();
      } catch (err) {
        if (!socket.closed && !this.#closed) this.#logger.error('zap.receive.failed', {}, err);
        return;
      }
      try {
        this.#handle(frames);
      } catch (err) {
        this.#stats.malformed += 1; // never let one request end the loop
        this.#logger.error('zap.request.failed', {}, err);
      }
    }
  }

  #handle(frames: Buffer[]): void {
    const parsed = parseZapRequest(frames);
    if (!parsed.ok) {
      this.#stats.malformed += 1;
      this.#logger.debug('zap.request.malformed', { reason: parsed.reason });
      if (parsed.envelope) void this.#send(zapReply(parsed.envelope, parsed.status, parsed.reason));
      return;
    }
    const request = parsed.request;
    const decision = this.#options.authenticator.authenticate(request);
    if (decision.admit) {
      this.#admissions.push(request);
      this.#pumpAdmissions();
      return;
    }
    this.#refuse(request, decision.reason);
  }

  #refuse(request: ZapRequest, reason: 'denied' | 'unknown'): void {
    this.#stats.refused += 1;
    if (reason === 'unknown') {
      this.#options.pending?.record({ domain: request.domain, address: request.address, mechanism: request.mechanism, credential: request.credential });
    }
    const reply = zapReply(request.envelope, '400', 'FAIL');
    const delayMs = this.#delayed.size >= this.#maxDelayedReplies ? 0 : this.#delays.next(request.address, Date.now());
    this.#logger.info('zap.refused', { address: request.address, mechanism: request.mechanism, reason, delayMs: Math.round(delayMs) });
    this.#options.onRefusal?.({ address: request.address, mechanism: request.mechanism, credential: request.credential, reason, delayMs });
    if (delayMs <= 0) {
      void this.#send(reply);
      return;
    }
    const timer = setTimeout(() => {
      this.#delayed.delete(timer);
      void this.#send(reply);
    }, delayMs);
    this.#delayed.add(timer);
  }

  /** Runs the admission worker unless it runs already; restarts it for anything queued as it ended. */
  #pumpAdmissions(): void {
    if (this.#admitting || this.#closed) return;
    this.#admitting = this.#admitQueued()
      .catch((err: unknown) => this.#logger.error('zap.admission.failed', {}, err))
      .finally(() => {
        this.#admitting = undefined;
        if (this.#admissions.length > 0) this.#pumpAdmissions();
      });
  }

  async #admitQueued(): Promise<void> {
    for (let request = this.#admissions.shift(); request && !this.#closed; request = this.#admissions.shift()) {
      // Decided again with the rules in force now: auth.json may have changed while it queued.
      const decision = this.#options.authenticator.authenticate(request);
      if (!decision.admit) {
        this.#refuse(request, decision.reason);
        continue;
      }
      const admission: ZapAdmission = {
        userId: decision.userId,
        mechanism: request.mechanism,
        credential: request.credential,
        address: request.address,
        domain: request.domain,
        capabilities: decision.capabilities,
        ...(decision.identity !== undefined ? { identity: decision.identity } : {}),
      };
      await this.#send(zapReply(request.envelope, '200', 'OK', decision.userId));
      this.#stats.admitted += 1;
      this.#logger.info('zap.admitted', { address: request.address, mechanism: request.mechanism, userId: decision.userId });
      await this.#settled(admission);
    }
  }

  /** Waits for the sink (bounded, cut short by close()); a failing sink is logged, never stops the handler. */
  async #settled(admission: ZapAdmission): Promise<void> {
    const signal = this.#closing.signal;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const cutOff = new Promise<'timeout' | 'closed'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#admissionTimeoutMs);
      onAbort = () => resolve('closed');
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const outcome = await Promise.race([this.#options.admissionSink.admitted(admission).then(() => 'ok' as const), cutOff]);
      if (outcome === 'timeout') this.#logger.warn('zap.admission.timeout', { userId: admission.userId, timeoutMs: this.#admissionTimeoutMs });
    } catch (err) {
      this.#logger.error('zap.admission.failed', { userId: admission.userId }, err);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  /** Queues one reply; sends never overlap. Resolves when sent (or dropped after close/failure). */
  #send(frames: Buffer[]): Promise<void> {
    const run = this.#sendChain.then(async () => {
      const socket = this.#socket;
      if (!socket || socket.closed) return;
      try {
        await socket.send(frames);
      } catch (err) {
        if (!socket.closed) this.#logger.error('zap.reply.failed', {}, err);
      }
    });
    this.#sendChain = run;
    return run;
  }
}
