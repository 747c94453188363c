import {
  EMPTY_FRAME,
  ERRNO,
  ERRNO_MESSAGES,
  frameBytes,
  frameFromKey,
  identityKey,
  textFrame,
  type DeliveryResult,
  type Frame,
  type RouterServices,
} from '@vip/protocol';
import type { DeliveryStats, DropReason } from '../delivery-stats.js';
import { FrameCache } from './frame-cache.js';

const PUBSUB = textFrame('pubsub');
const ERROR = textFrame('error');
const EAGAIN_NUM = textFrame(String(ERRNO.EAGAIN));
const EAGAIN_TEXT = textFrame(ERRNO_MESSAGES[ERRNO.EAGAIN] as string);

/** How many deliveries, and how many bytes of them, may wait for the transport. */
export interface FanOutLimits {
  /** Deliveries per subscriber. */
  readonly maxPending: number;
  /** Bytes (args summed) per subscriber. */
  readonly maxPendingBytes: number;
  /** Bytes for all subscribers together. */
  readonly maxTotalBytes: number;
}

/** What one subscriber has waiting for the transport. */
interface Pending {
  count: number;
  bytes: number;
}

/**
 * Sends pubsub deliveries without waiting on any one subscriber. Each subscriber may have at most
 * `maxPending` deliveries, of at most `maxPendingBytes` together, not yet accepted by the
 * transport, and all subscribers `maxTotalBytes`; beyond that a message for it is dropped at once
 * (reason `backlog`), so a stalled subscriber neither blocks the others nor grows memory. The
 * bytes are counted per subscriber even though subscribers share one payload frame: the transport
 * may copy it per peer (RabbitMQ encodes a body per delivery). `again` and `backlog` drops are
 * reported to the publisher the way VOLTTRON reports EAGAIN:
 * `error 11 'Resource temporarily unavailable' <subscriber> 'pubsub'`.
 */
export class FanOut {
  readonly #pending = new Map<string, Pending>();
  /** Subscriber key -> identity frame, so a delivery allocates no recipient frame. */
  readonly #peers = new FrameCache(frameFromKey);
  #inFlight = 0;
  #inFlightBytes = 0;

  constructor(
    private readonly services: () => RouterServices,
    private readonly stats: DeliveryStats,
    private readonly limits: FanOutLimits,
    private readonly onUnreachable: (peer: string) => void,
  ) {}

  get inFlight(): number {
    return this.#inFlight;
  }

  get inFlightBytes(): number {
    return this.#inFlightBytes;
  }

  /** Each subscriber with deliveries waiting for the transport: its key, how many, their bytes. */
  pendingBySubscriber(): Array<{ readonly peer: string; readonly count: number; readonly bytes: number }> {
    return [...this.#pending].map(([peer, p]) => ({ peer, count: p.count, bytes: p.bytes }));
  }

  /** Deliver one publish to every subscriber key in `subscribers`. */
  publish(subscribers: Iterable<string>, publisher: Frame, user: Frame, id: Frame, args: readonly Frame[]): void {
    const bytes = frameBytes(args);
    for (const key of subscribers) {
      if (!this.#reserve(key, bytes)) {
        this.#dropped('backlog', key, publisher, user, id);
        continue;
      }
      const to = this.#peers.get(key);
      void this.services()
        .deliver(to, EMPTY_FRAME, user, id, PUBSUB, args)
        .then(
          (result) => this.#settled(key, bytes, result, publisher, user, id),
          () => this.#settled(key, bytes, 'error', publisher, user, id),
        );
    }
  }

  /** Send a router reply (request_response, list_response, error) to a peer; counted, never awaited. */
  reply(to: Frame, user: Frame, id: Frame, subsystem: Frame, args: readonly Frame[]): void {
    const key = identityKey(to);
    const bytes = frameBytes(args);
    if (!this.#reserve(key, bytes)) {
      this.stats.repliesDropped++;
      return;
    }
    void this.services()
      .deliver(to, EMPTY_FRAME, user, id, subsystem, args)
      .then(
        (result) => {
          this.#release(key, bytes);
          if (result !== 'ok') this.stats.repliesDropped++;
          if (result === 'unreachable') this.onUnreachable(key);
        },
        () => {
          this.#release(key, bytes);
          this.stats.repliesDropped++;
        },
      );
  }

  #reserve(key: string, bytes: number): boolean {
    const l = this.limits;
    const p = this.#pending.get(key);
    if (this.#inFlightBytes + bytes > l.maxTotalBytes) return false;
    if (p === undefined) {
      if (bytes > l.maxPendingBytes) return false;
      this.#pending.set(key, { count: 1, bytes });
    } else {
      if (p.count >= l.maxPending || p.bytes + bytes > l.maxPendingBytes) return false;
      p.count++;
      p.bytes += bytes;
    }
    this.#inFlight++;
    this.#inFlightBytes += bytes;
    return true;
  }

  #release(key: string, bytes: number): void {
    this.#inFlight--;
    this.#inFlightBytes -= bytes;
    const p = this.#pending.get(key);
    if (p === undefined) return;
    if (--p.count <= 0) this.#pending.delete(key);
    else p.bytes -= bytes;
  }

  #settled(key: string, bytes: number, result: DeliveryResult | 'error', publisher: Frame, user: Frame, id: Frame): void {
    this.#release(key, bytes);
    if (result === 'ok') {
      this.stats.delivered++;
      return;
    }
    if (result === 'unreachable') {
      this.stats.drop('unreachable', key);
      this.onUnreachable(key);
      return;
    }
    this.#dropped(result, key, publisher, user, id);
  }

  #dropped(reason: DropReason, key: string, publisher: Frame, user: Frame, id: Frame): void {
    this.stats.drop(reason, key);
    if (reason === 'again' || reason === 'backlog') {
      this.reply(publisher, user, id, ERROR, [EAGAIN_NUM, EAGAIN_TEXT, frameFromKey(key), PUBSUB]);
    }
  }
}
