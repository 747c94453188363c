import { ClosedError, identityKey, type DeliveryResult, type Logger } from '@vip/protocol';
import { SendBacklog, type SendBacklogStats } from './send-backlog.js';
import { SendQueue } from './send-queue.js';
import { zmqErrorCode } from './zmq-errors.js';

/** The memory limits of a router's sends (README "Memory"). */
export interface SendLimits {
  /** Largest message, all frames. */
  readonly maxMessageBytes: number;
  /** ZMQ_SNDHWM: messages libzmq holds for one peer before a send to it fails (EAGAIN). */
  readonly sendHighWaterMark: number;
  /** Bytes the router queues for one peer whose pipe is full. */
  readonly peerQueueBytes: number;
  readonly peerQueueMessages: number;
  /** Bytes queued for all peers together. */
  readonly routerQueueBytes: number;
}

/** The part of a ROUTER socket the sender drives. */
export interface RouterSocketLike {
  send(frames: Buffer[]): Promise<void>;
}

export interface RouterSenderStats {
  readonly delivered: number;
  readonly unreachable: number;
  readonly again: number;
  readonly queued: SendBacklogStats & { readonly dropped: Readonly<Record<string, number>> };
}

/**
 * The send side of the router's ROUTER socket (`mandatory`, `sendTimeout: 0`): every send either
 * enters the peer's pipe, fails EHOSTUNREACH (no such peer) or EAGAIN (pipe full: the socket's
 * high-water mark counts messages). A full pipe sends the message to the peer's queue in
 * `SendBacklog` (bounded in bytes and count), which later messages for that peer join; a full
 * queue answers `'again'` (error 11 to the sender). What the router holds for one peer is thus at
 * most `sendHighWaterMark x maxMessageBytes` in libzmq plus `peerQueueBytes` here (README "Memory").
 *
 * Why not a lower mark for large messages only: libzmq applies a changed ZMQ_SNDHWM to every
 * existing pipe, and changing it while a peer disconnects crashed libzmq 4.3.5 (segfault, seen
 * here), so the mark is fixed at start.
 */
export class RouterSender {
  readonly #queue: SendQueue;
  readonly #backlog: SendBacklog;
  readonly #logger: Logger;
  readonly #isClosing: () => boolean;
  readonly #queueDropped: Record<string, number> = {};
  /** Count `send error` drops (the transport's dropped counters). */
  readonly #countDrop: (reason: string) => void;
  readonly #unreachableHook: ((to: Buffer) => void) | undefined;
  #delivered = 0;
  #unreachable = 0;
  #again = 0;

  constructor(options: {
    readonly socket: RouterSocketLike;
    readonly limits: SendLimits;
    readonly logger: Logger;
    readonly isClosing: () => boolean;
    readonly countDrop: (reason: string) => void;
    /** Queued messages were dropped (their peer is gone): their buffers are garbage now. */
    readonly released?: () => void;
    /** A send found no connection with this routing id (EHOSTUNREACH): evidence the peer is gone. */
    readonly unreachable?: (to: Buffer) => void;
  }) {
    this.#logger = options.logger;
    this.#isClosing = options.isClosing;
    this.#countDrop = options.countDrop;
    this.#unreachableHook = options.unreachable;
    this.#queue = new SendQueue(options.socket, 'zmq router transport');
    this.#backlog = new SendBacklog({
      peerBytes: options.limits.peerQueueBytes,
      peerMessages: options.limits.peerQueueMessages,
      totalBytes: options.limits.routerQueueBytes,
      send: (_key, frames) =>
        this.#send(frames).catch((err: unknown) => {
          if (zmqErrorCode(err) === 'EHOSTUNREACH') this.#unreachableHook?.(frames[0] as Buffer);
          throw err;
        }),
      dropped: (n, reason) => {
        this.#queueDropped[reason] = (this.#queueDropped[reason] ?? 0) + n;
        options.released?.();
      },
    });
  }

  /** Send `frames` (`[to, from, VIP1, ...]`); never rejects. */
  deliver(frames: Buffer[]): Promise<DeliveryResult> {
    const backlog = this.#backlog;
    let key: string | undefined;
    if (backlog.blockedPeers > 0) {
      key = identityKey(frames[0] as Buffer);
      if (backlog.isBlocked(key)) return Promise.resolve(this.#enqueue(key, frames));
    }
    return this.#send(frames).then(this.#sent, (err: unknown) => this.#failed(err, key, frames));
  }

  /**
   * A liveness probe (`frames` addressed to one routing id), in order with every other send but
   * never queued behind a full pipe: sent, or the pipe full (EAGAIN), means a connection holds the
   * routing id; EHOSTUNREACH that none does.
   */
  probe(frames: Buffer[]): Promise<'alive' | 'gone' | 'unknown'> {
    return this.#send(frames).then(
      () => 'alive' as const,
      (err: unknown) => {
        const code = zmqErrorCode(err);
        if (code === 'EHOSTUNREACH') return 'gone' as const;
        return code === 'EAGAIN' ? ('alive' as const) : ('unknown' as const);
      },
    );
  }

  /** The peer is gone: what waits for it is dropped (memory released now). */
  forget(key: string): void {
    this.#backlog.forget(key);
  }

  stats(): RouterSenderStats {
    return {
      delivered: this.#delivered,
      unreachable: this.#unreachable,
      again: this.#again,
      queued: { ...this.#backlog.stats(), dropped: { ...this.#queueDropped } },
    };
  }

  close(): void {
    this.#backlog.close();
    this.#queue.close();
  }

  #send(frames: Buffer[]): Promise<void> {
    return this.#queue.send(frames);
  }

  #enqueue(key: string, frames: Buffer[]): DeliveryResult {
    if (this.#backlog.enqueue(key, frames)) return 'ok';
    this.#again++;
    return 'again';
  }

  readonly #sent = (): DeliveryResult => {
    this.#delivered++;
    return 'ok';
  };

  #failed(err: unknown, key: string | undefined, frames: Buffer[]): DeliveryResult {
    const code = zmqErrorCode(err);
    if (code === 'EAGAIN') return this.#enqueue(key ?? identityKey(frames[0] as Buffer), frames);
    this.#unreachable++;
    if (code === 'EHOSTUNREACH') this.#unreachableHook?.(frames[0] as Buffer);
    if (code !== 'EHOSTUNREACH' && !this.#isClosing() && !(err instanceof ClosedError)) {
      this.#countDrop('send error');
      this.#logger.warn('router.send.failed', { code }, err);
    }
    return 'unreachable';
  }
}
