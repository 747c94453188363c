import { ClosedError, TransportError, silentLogger } from '@vip/protocol';
import type { Logger } from '@vip/protocol';
import { Router } from 'zeromq';
import type { Context } from 'zeromq';
import type { AdmissionAnswer, AdmissionSink, PendingAdmission, ZapAdmission } from '../zap-contract.js';
import { zmqErrorCode } from '../zmq-errors.js';
import { RefusalDelays } from '@vip/auth';
import type { AuthDecision, Authenticator, PendingAuthStore, RefusalDelayOptions } from '@vip/auth';
import { parseZapRequest, zapReply } from './zap-request.js';
import type { ZapRequest } from './zap-request.js';

/** The RFC 27 endpoint libzmq asks, in the context of the socket being authenticated. */
export const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';

export interface ZapRefusal {
  readonly address: string;
  readonly mechanism: string;
  readonly credential: string;
  readonly reason: 'denied' | 'unknown';
  /** How long the `400` waits (docs/protocol.md 5.4). */
  readonly delayMs: number;
}

export interface ZapHandlerOptions {
  /** Decides each request; keep it current with an AuthFileWatcher. */
  readonly authenticator: Pick<Authenticator, 'authenticate'>;
  /** Receives every admissible request and answers it when it can attribute it (zap-contract.ts). */
  readonly admissionSink: AdmissionSink;
  /** Where refused unknown credentials are recorded for `vipctl auth approve` (optional). */
  readonly pending?: PendingAuthStore;
  /** The zeromq context of the router socket (default: zeromq.js's shared context). */
  readonly context?: Context;
  readonly logger?: Logger;
  readonly refusalDelay?: RefusalDelayOptions;
  /** Refusals waiting for their delayed reply; beyond this a refusal is answered at once (default 10,000). */
  readonly maxDelayedReplies?: number;
  /** Observer for each refusal (metrics, tests). */
  readonly onRefusal?: (refusal: ZapRefusal) => void;
}

export interface ZapHandlerStats {
  readonly admitted: number;
  readonly refused: number;
  /** Answered 300 (temporary failure): the sink declined them. */
  readonly declined: number;
  readonly malformed: number;
  /** Refusals whose delayed 400 is still due. */
  readonly delayedReplies: number;
  /** Admissible requests handed to the sink and not answered yet. */
  readonly awaitingAnswer: number;
}

/**
 * The ZAP handler: a ROUTER at `inproc://zeromq.zap.01` answering libzmq's authentication
 * requests for sockets in the same context (docs/protocol.md 5.4, TOOLCHAIN.md).
 *
 * - An admissible request goes to the `admissionSink` as a `PendingAdmission`; the sink answers
 *   it when it can tell which connection it admits (the router transport answers in rounds, see
 *   its README), and the request is decided again with the rules in force at that moment.
 * - Refusals never wait behind admissions: an unknown credential is recorded as pending, and its
 *   400 is delayed per source address (random first delay, doubling, capped).
 * - Malformed requests are answered 400/500 (or dropped when they cannot be answered) and counted.
 * - The socket is ROUTER_MANDATORY with a zero send timeout: a reply to a connection that went
 *   away fails at once (EHOSTUNREACH) and its admission is reported `gone`, not admitted.
 *
 * Start it before the router binds and use `zapEnforceDomain: true` on the router, or a CURVE
 * client can be admitted with no handler listening (fail-open).
 */
export class ZapHandler {
  readonly #options: ZapHandlerOptions;
  readonly #logger: Logger;
  readonly #delays: RefusalDelays;
  readonly #maxDelayedReplies: number;
  #socket: Router | undefined;
  #started: Promise<void> | undefined;
  #closed: Promise<void> | undefined;
  #receiving: Promise<void> | undefined;
  readonly #awaiting = new Set<ZapRequest>();
  readonly #delayed = new Set<NodeJS.Timeout>();
  #stats = { admitted: 0, refused: 0, declined: 0, malformed: 0 };

  constructor(options: ZapHandlerOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#delays = new RefusalDelays(options.refusalDelay);
    this.#maxDelayedReplies = options.maxDelayedReplies ?? 10_000;
  }

  /** Binds the ZAP endpoint; resolves when libzmq can ask. Idempotent. */
  start(): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError('ZAP handler'));
    return (this.#started ??= this.#bind());
  }

  stats(): ZapHandlerStats {
    return { ...this.#stats, delayedReplies: this.#delayed.size, awaitingAnswer: this.#awaiting.size };
  }

  /** Stops answering and unbinds; delayed refusals are dropped, pending admissions never answered. Idempotent. */
  close(): Promise<void> {
    return (this.#closed ??= this.#shutdown());
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #bind(): Promise<void> {
    const context = this.#options.context ? { context: this.#options.context } : {};
    const socket = new Router({ linger: 0, mandatory: true, sendTimeout: 0, ...context });
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
    await this.#started?.catch(() => undefined); // a failed start has nothing to release
    for (const timer of this.#delayed) clearTimeout(timer);
    this.#delayed.clear();
    this.#awaiting.clear();
    this.#socket?.close();
    await this.#receiving;
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
    if (!decision.admit) {
      this.#refuse(request, decision.reason);
      return;
    }
    this.#awaiting.add(request);
    const pending: PendingAdmission = {
      admission: admissionOf(request, decision),
      answer: (accept) => this.#answer(request, accept),
      decline: (reason) => this.#decline(request, reason),
    };
    try {
      this.#options.admissionSink.admit(pending);
    } catch (err) {
      this.#logger.error('zap.sink.failed', {}, err);
      this.#decline(request, 'admission sink failed');
    }
  }

  /** The sink answers: decided again with the rules in force now (auth.json may have changed meanwhile). */
  #answer(request: ZapRequest, accept: (admission: ZapAdmission) => boolean): Promise<AdmissionAnswer> {
    if (this.#closed) return Promise.resolve('closed');
    if (!this.#awaiting.delete(request)) return Promise.resolve('answered');
    const decision = this.#options.authenticator.authenticate(request);
    if (!decision.admit) {
      this.#refuse(request, decision.reason);
      return Promise.resolve('refused');
    }
    const admission = admissionOf(request, decision);
    if (!accept(admission)) {
      this.#stats.declined += 1;
      void this.#send(zapReply(request.envelope, '300', 'not now'));
      return Promise.resolve('declined');
    }
    return this.#send(zapReply(request.envelope, '200', 'OK', decision.userId)).then((sent) => {
      if (sent !== 'sent') return sent;
      this.#stats.admitted += 1;
      this.#logger.info('zap.admitted', { address: request.address, mechanism: request.mechanism, userId: decision.userId });
      return 'sent';
    });
  }

  #decline(request: ZapRequest, reason: string): void {
    if (this.#closed || !this.#awaiting.delete(request)) return;
    this.#stats.declined += 1;
    this.#logger.info('zap.declined', { address: request.address, mechanism: request.mechanism, reason });
    void this.#send(zapReply(request.envelope, '300', reason));
  }

  #refuse(request: ZapRequest, reason: 'denied' | 'unknown'): void {
    this.#stats.refused += 1;
    if (reason === 'unknown') {
      this.#options.pending?.record({
        domain: request.domain,
        address: request.address,
        mechanism: request.mechanism,
        credential: request.credential,
      });
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

  /**
   * Writes one reply. With a zero send timeout zeromq.js sends (or fails) synchronously, so sends
   * never overlap; EHOSTUNREACH (ROUTER_MANDATORY) means the asking connection is gone.
   */
  #send(frames: Buffer[]): Promise<'sent' | 'gone' | 'closed'> {
    const socket = this.#socket;
    if (!socket || socket.closed) return Promise.resolve('closed');
    let sending: Promise<void>;
    try {
      sending = socket.send(frames);
    } catch (err) {
      sending = Promise.reject(err);
    }
    return sending.then(
      () => 'sent' as const,
      (err: unknown) => {
        if (socket.closed) return 'closed' as const;
        const code = zmqErrorCode(err);
        if (code !== 'EHOSTUNREACH') this.#logger.error('zap.reply.failed', { code }, err);
        return 'gone' as const;
      },
    );
  }
}

function admissionOf(request: ZapRequest, decision: Extract<AuthDecision, { admit: true }>): ZapAdmission {
  return {
    userId: decision.userId,
    mechanism: request.mechanism,
    credential: request.credential,
    address: request.address,
    domain: request.domain,
    capabilities: decision.capabilities,
    ...(decision.identity !== undefined ? { identity: decision.identity } : {}),
  };
}
