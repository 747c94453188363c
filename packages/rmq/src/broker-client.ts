import type { Channel, Message } from 'amqplib';
import { ClosedError, ProtocolError, silentLogger, TransportError, type ConnectionStatus, type Logger } from '@vip/protocol';
import type { AmqpPublish } from './amqp-mapping.js';
import { BrokerLink } from './broker-link.js';
import type { LinkSession } from './link-session.js';
import { declareVolttronTopology } from './broker-setup.js';
import { DeferredAcks, waitForDrain } from './channel-tools.js';
import type { RmqLinkOptions } from './rmq-options.js';
import { StatusListeners } from './status-listeners.js';

/** How long an ack may wait for more deliveries to share it (DeferredAcks). */
const ACK_DELAY_MS = 20;

/**
 * What an agent-side broker client (RmqConnection, RmqPubSub) shares: one reconnecting link, one
 * channel per session whose unexpected close restarts the link, status listeners, `open`/`close`,
 * and publishing that rejects with TransportError while disconnected (nothing is queued).
 */
export abstract class BrokerClient {
  protected readonly options: RmqLinkOptions;
  protected readonly log: Logger;
  readonly #what: string;
  readonly #declare: boolean;
  readonly #link: BrokerLink;
  readonly #status = new StatusListeners();
  readonly #acks: DeferredAcks;
  #channel: Channel | undefined;
  /** One wait for 'drain' shared by every publish that found the buffer full. */
  #drain: Promise<void> | undefined;
  #opened?: Promise<void>;
  #closing = false;
  #rejected = 0;

  protected constructor(options: RmqLinkOptions, what: string, connectionName: string, declareTopology: boolean, logger: Logger | undefined) {
    this.options = options;
    this.#what = what;
    this.#declare = declareTopology;
    this.log = logger ?? silentLogger;
    this.#acks = new DeferredAcks({ threshold: Math.floor(options.prefetch / 2), delayMs: ACK_DELAY_MS }, (err) => this.log.debug('rmq.ack.failed', {}, err));
    this.#link = new BrokerLink(options, connectionName, {
      setup: (session) => this.#setup(session),
      down: () => {
        this.#channel = undefined;
        this.sessionDown();
      },
      status: (s) => this.#status.emit(s),
    }, this.log);
  }

  /** Declare queues, bindings and consumers on a fresh session's channel. */
  protected abstract declare(ch: Channel): Promise<void>;
  /** The session ended: drop per-session state (consumer tags...). */
  protected sessionDown(): void {}

  onStatus(listener: (status: ConnectionStatus) => void): () => void {
    return this.#status.add(listener);
  }

  open(): Promise<void> {
    if (this.#closing) return Promise.reject(new ClosedError(this.#what));
    return (this.#opened ??= this.#link.open());
  }

  close(): Promise<void> {
    this.#closing = true;
    this.#acks.flush(); // before the channels close: a durable queue would redeliver unacked messages
    return this.#link.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  protected get channel(): Channel | undefined {
    return this.#channel;
  }
  protected get reconnects(): number {
    return this.#link.reconnects;
  }
  /** Sends refused because the link was down. */
  protected get rejectedWhileDisconnected(): number {
    return this.#rejected;
  }

  protected checkOpen(): void {
    if (this.#closing) throw new ClosedError(this.#what);
  }

  /**
   * Publish on the current channel; TransportError while disconnected, ProtocolError above
   * maxMessageBytes; waits for drain when the buffer is full.
   */
  protected async publishAmqp(p: AmqpPublish, what: string): Promise<void> {
    this.checkOpen();
    const ch = this.#channel;
    if (!ch) {
      this.#rejected += 1;
      throw new TransportError(`${this.#what} is not connected to the broker (reconnecting); ${what} not sent`);
    }
    if (p.content.length > this.options.maxMessageBytes) {
      throw new ProtocolError(`${what} of ${p.content.length} bytes exceeds maxMessageBytes (${this.options.maxMessageBytes})`);
    }
    let ok: boolean;
    try {
      ok = ch.publish(p.exchange, p.routingKey, p.content, p.properties);
    } catch (err) {
      throw new TransportError(`${this.#what}: publishing ${what} failed`, { cause: err });
    }
    if (!ok) await (this.#drain ??= waitForDrain(ch).finally(() => (this.#drain = undefined)));
  }

  /** Drop the session of `ch` (a consumer was cancelled by the broker); the link reconnects. */
  protected restart(reason: string, ch: Channel): void {
    if (ch === this.#channel) this.#link.restart(reason);
  }

  /** Ack after the handler ran (deferred and batched, DeferredAcks; `defer` false for a durable queue). */
  protected ack(ch: Channel, msg: Message, defer = true): void {
    this.#acks.ack(ch, msg, defer);
  }

  async #setup(session: LinkSession): Promise<void> {
    const ch = await session.createChannel();
    ch.on('error', (err: Error) => this.log.debug('rmq.channel.error', {}, err));
    ch.on('close', () => {
      if (this.#channel === ch) this.#link.restart('channel closed');
    });
    if (this.#declare) await declareVolttronTopology(ch, this.options.vhost);
    await ch.prefetch(this.options.prefetch);
    await this.declare(ch);
    this.#channel = ch;
  }
}
