import type { Channel, ChannelModel } from 'amqplib';
import type { Logger } from '@vip/protocol';

export interface PeerSweepOptions {
  readonly intervalMs: number;
  /** After a reconnect, wait this long before sweeping (agents are reconnecting too). */
  readonly graceMs: number;
  readonly queueOf: (key: string) => string;
  readonly peers: () => string[];
  /**
   * The peer's queue was missing from what the broker answered; `askedAt` (Date.now()) is when the
   * question was asked: a peer seen since then came back meanwhile, and is not gone.
   */
  readonly gone: (key: string, askedAt: number) => void;
  /** When given (management API), one request per sweep replaces the per-peer AMQP checks. */
  readonly listQueues?: () => Promise<Set<string>>;
  readonly logger: Logger;
}

/**
 * RabbitMQ tells nobody when an agent's exclusive queue disappears; this asks. Every
 * `intervalMs` it lists the vhost's queues through the management API when it has it (one
 * request), otherwise passively checks each known peer's queue, one at a time on its own channel.
 * An agent's queue is exclusive, so a live one answers 405 RESOURCE_LOCKED and a gone one 404;
 * either closes the channel, so each check costs a channel (keep the interval modest).
 */
export class PeerSweep {
  readonly #o: PeerSweepOptions;
  #model: ChannelModel | undefined;
  #probe: Channel | undefined;
  #timer: NodeJS.Timeout | undefined;
  #notBefore = 0;
  #resumed = 0;
  #stopped = false;

  constructor(options: PeerSweepOptions) {
    this.#o = options;
  }

  resume(model: ChannelModel, probe: Channel): void {
    if (this.#stopped || this.#o.intervalMs <= 0) return;
    this.#model = model;
    this.#probe = this.#guard(probe);
    this.#notBefore = this.#resumed++ === 0 ? 0 : Date.now() + this.#o.graceMs;
    this.#arm();
  }

  pause(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#model = undefined;
    this.#probe = undefined;
  }

  stop(): void {
    this.#stopped = true;
    this.pause();
  }

  #guard(ch: Channel): Channel {
    ch.on('error', (err: Error) => this.#o.logger.debug('rmq.sweep.channel-error', {}, err));
    return ch;
  }

  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#tick().then(
        () => this.#rearm(),
        (err: unknown) => {
          this.#o.logger.debug('rmq.sweep.failed', {}, err);
          this.#rearm();
        },
      );
    }, this.#o.intervalMs);
  }

  #rearm(): void {
    if (this.#model && !this.#stopped) this.#arm();
  }

  async #tick(): Promise<void> {
    if (Date.now() < this.#notBefore) return;
    if (this.#o.listQueues) return this.#tickByList(this.#o.listQueues);
    for (const key of this.#o.peers()) {
      const model = this.#model;
      const probe = this.#probe;
      if (!model || !probe || this.#stopped) return;
      const askedAt = Date.now();
      try {
        await probe.checkQueue(this.#o.queueOf(key));
      } catch (err) {
        if (this.#model !== model) return; // the connection went meanwhile; not a verdict on the peer
        const code = (err as { code?: unknown } | null)?.code;
        // 405: the exclusive queue is held by its agent (alive); 404: it is gone; both close the channel
        if (code !== 404 && code !== 405) throw err;
        if (code === 404) this.#o.gone(key, askedAt);
        this.#probe = this.#guard(await model.createChannel());
      }
    }
  }

  async #tickByList(listQueues: () => Promise<Set<string>>): Promise<void> {
    const model = this.#model;
    const peers = this.#o.peers();
    if (peers.length === 0) return;
    const askedAt = Date.now();
    const queues = await listQueues();
    if (this.#model !== model || this.#stopped) return;
    for (const key of peers) if (!queues.has(this.#o.queueOf(key))) this.#o.gone(key, askedAt);
  }
}
