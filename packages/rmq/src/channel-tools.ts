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
    return new RmqSetupError('identity', `queue ${queue} is held by another connection (the identity is already connected)`,
      'use another identity or stop the other agent', { cause: err });
  }
  if (msg.includes('NOT_FOUND') || msg.includes('NOT-FOUND')) {
    return new RmqSetupError('topology', `exchange volttron is missing in virtual host ${vhost}`,
      'start the platform (router) first, call ensureVolttronBroker(), or pass declareTopology: true', { cause: err });
  }
  if (msg.includes('ACCESS_REFUSED') || msg.includes('ACCESS-REFUSED')) {
    return new RmqSetupError('permission', `no permission to declare or bind queue ${queue} in ${vhost}`,
      'grant the agent user its VOLTTRON permissions (agentPermissions) on the virtual host', { cause: err });
  }
  return new RmqSetupError('broker', `declaring queue ${queue} failed: ${msg}`, 'check the broker log', { cause: err });
}

/**
 * Acks per tick: amqplib hands over every delivery of a socket read in one synchronous loop
 * and our handlers run synchronously, so instead of one basic.ack per message, the last
 * message of each channel is acked with `multiple` once the loop is done (process.nextTick):
 * fewer frames for us and the broker, same guarantee (a message is acked after its handler
 * ran; delivery tags rise per channel). `flush()` before closing a channel on purpose.
 */
export class TickAcks {
  readonly #last = new Map<Channel, Message>();
  readonly #failed: (err: unknown) => void;
  #scheduled = false;

  constructor(onFailure: (err: unknown) => void) {
    this.#failed = onFailure;
  }

  ack(ch: Channel, msg: Message): void {
    this.#last.set(ch, msg);
    if (this.#scheduled) return;
    this.#scheduled = true;
    process.nextTick(() => this.flush());
  }

  flush(): void {
    this.#scheduled = false;
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
