import type { Channel, Message } from 'amqplib';
import { RmqSetupError } from './rmq-errors.js';

/** Resolve when the channel can take more (or is gone, in which case the next send fails). */
export function waitForDrain(ch: Channel): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      ch.off('drain', done);
      ch.off('close', done);
      resolve();
    };
    ch.on('drain', done);
    ch.on('close', done);
  });
}

/** Declaring/binding a VIP queue failed: say why (identity taken, exchange missing, rights). */
export function queueDeclareError(err: unknown, queue: string, vhost: string): RmqSetupError {
  const msg = err instanceof Error ? err.message : String(err);
  if (msg.includes('RESOURCE_LOCKED') || msg.includes('RESOURCE-LOCKED')) {
    return new RmqSetupError(
      'identity',
      `queue ${queue} is held by another connection (the identity is already connected)`,
      'use another identity or stop the other agent',
      { cause: err },
    );
  }
  if (msg.includes('NOT_FOUND') || msg.includes('NOT-FOUND')) {
    return new RmqSetupError(
      'topology',
      `exchange volttron is missing in virtual host ${vhost}`,
      'start the platform (router) first, call ensureVolttronBroker(), or pass declareTopology: true',
      { cause: err },
    );
  }
  if (msg.includes('ACCESS_REFUSED') || msg.includes('ACCESS-REFUSED')) {
    return new RmqSetupError(
      'permission',
      `no permission to declare or bind queue ${queue} in ${vhost}`,
      'grant the agent user its VOLTTRON permissions (agentPermissions) on the virtual host',
      { cause: err },
    );
  }
  return new RmqSetupError('broker', `declaring queue ${queue} failed: ${msg}`, 'check the broker log', { cause: err });
}

/**
 * Deferred acks: amqplib hands over every delivery of a socket read in one synchronous loop and
 * our handlers run synchronously, so instead of one basic.ack per message, the last message of
 * each channel is acked with `multiple` later: at once (next tick) when `threshold` messages are
 * pending (half the prefetch, so the broker never stalls on the window), otherwise after `delayMs`.
 * Same guarantee (a message is acked after its handler ran; delivery tags rise per channel), far
 * fewer frames for us and the broker: a sequential request/reply flow otherwise pays one ack
 * frame, write and broker ack per message, written ahead of the reply. A late ack on an exclusive
 * auto-delete queue never redelivers anything; durable queues pass `defer: false`. Every consumer
 * on an acked channel must be a manual-ack one (a multiple ack would cover no-ack tags). `flush()`
 * before closing a channel on purpose (it also releases the timer).
 */
export class DeferredAcks {
  readonly #last = new Map<Channel, Message>();
  readonly #failed: (err: unknown) => void;
  readonly #threshold: number;
  readonly #delayMs: number;
  #pending = 0;
  #tick = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: { readonly threshold: number; readonly delayMs: number }, onFailure: (err: unknown) => void) {
    this.#threshold = Math.max(1, options.threshold);
    this.#delayMs = options.delayMs;
    this.#failed = onFailure;
  }

  /** Ack `msg` (and everything before it on `ch`); `defer` false: on the next tick (a durable queue would redeliver a late one). */
  ack(ch: Channel, msg: Message, defer = true): void {
    this.#last.set(ch, msg);
    this.#pending += 1;
    if (!defer || this.#pending >= this.#threshold) {
      if (this.#tick) return;
      this.#tick = true;
      process.nextTick(() => this.flush());
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.flush(), this.#delayMs);
      this.#timer.unref();
    }
  }

  flush(): void {
    this.#tick = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = 0;
    for (const [ch, msg] of this.#last) {
      try {
        ch.ack(msg, true);
      } catch (err) {
        // channel already gone: an exclusive queue goes with it, a durable one redelivers
        this.#failed(err);
      }
    }
    this.#last.clear();
  }
}
