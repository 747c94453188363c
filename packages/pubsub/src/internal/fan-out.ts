import { EMPTY_FRAME, ERRNO, ERRNO_MESSAGES, frameFromKey, identityKey, textFrame, type DeliveryResult, type Frame, type RouterServices } from '@vip/protocol';
import type { DeliveryStats, DropReason } from '../delivery-stats.js';
import { FrameCache } from './frame-cache.js';

const PUBSUB = textFrame('pubsub');
const ERROR = textFrame('error');
const EAGAIN_NUM = textFrame(String(ERRNO.EAGAIN));
const EAGAIN_TEXT = textFrame(ERRNO_MESSAGES[ERRNO.EAGAIN] as string);

/**
 * Sends pubsub deliveries without waiting on any one subscriber. Each subscriber may have at most
 * `maxPending` deliveries not yet accepted by the transport; beyond that a message for it is
 * dropped at once (reason `backlog`), so a stalled subscriber neither blocks the others nor grows
 * memory. `again` and `backlog` drops are reported to the publisher the way VOLTTRON reports
 * EAGAIN: `error 11 'Resource temporarily unavailable' <subscriber> 'pubsub'`.
 */
export class FanOut {
  readonly #pending = new Map<string, number>();
  /** Subscriber key -> identity frame, so a delivery allocates no recipient frame. */
  readonly #peers = new FrameCache(frameFromKey);
  #inFlight = 0;

  constructor(
    private readonly services: () => RouterServices,
    private readonly stats: DeliveryStats,
    private readonly maxPending: number,
    private readonly onUnreachable: (peer: string) => void,
  ) {}

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Deliver one publish to every subscriber key in `subscribers`. */
  publish(subscribers: Iterable<string>, publisher: Frame, user: Frame, id: Frame, args: readonly Frame[]): void {
    for (const key of subscribers) {
      if (!this.#reserve(key)) {
        this.#dropped('backlog', key, publisher, user, id);
        continue;
      }
      const to = this.#peers.get(key);
      void this.services()
        .deliver(to, EMPTY_FRAME, user, id, PUBSUB, args)
        .then(
          (result) => this.#settled(key, result, publisher, user, id),
          () => this.#settled(key, 'error', publisher, user, id),
        );
    }
  }

  /** Send a router reply (request_response, list_response, error) to a peer; counted, never awaited. */
  reply(to: Frame, user: Frame, id: Frame, subsystem: Frame, args: readonly Frame[]): void {
    const key = identityKey(to);
    if (!this.#reserve(key)) {
      this.stats.repliesDropped++;
      return;
    }
    void this.services()
      .deliver(to, EMPTY_FRAME, user, id, subsystem, args)
      .then(
        (result) => {
          this.#release(key);
          if (result !== 'ok') this.stats.repliesDropped++;
          if (result === 'unreachable') this.onUnreachable(key);
        },
        () => {
          this.#release(key);
          this.stats.repliesDropped++;
        },
      );
  }

  #reserve(key: string): boolean {
    const n = this.#pending.get(key) ?? 0;
    if (n >= this.maxPending) return false;
    this.#pending.set(key, n + 1);
    this.#inFlight++;
    return true;
  }

  #release(key: string): void {
    this.#inFlight--;
    const n = (this.#pending.get(key) ?? 1) - 1;
    if (n <= 0) this.#pending.delete(key);
    else this.#pending.set(key, n);
  }

  #settled(key: string, result: DeliveryResult | 'error', publisher: Frame, user: Frame, id: Frame): void {
    this.#release(key);
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
