import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import {
  ClosedError, InvalidPayloadError, silentLogger, TransportError,
  type AgentConnection, type ConnectionStatus, type Logger, type VipMessage,
} from '@vip/protocol';
import { amqpToVip, identityText, routingKeyFor, vipToAmqp, VOLTTRON_EXCHANGE } from './amqp-mapping.js';
import { BrokerLink } from './broker-link.js';
import { declareVolttronTopology } from './broker-setup.js';
import { queueDeclareError, waitForDrain } from './channel-tools.js';
import { parseRmqLinkOptions, type RmqLinkOptions, type RmqLinkOptionsInput } from './rmq-options.js';
import { StatusListeners } from './status-listeners.js';

export interface RmqConnectionOptions extends RmqLinkOptionsInput {
  readonly identity: string;
  /**
   * Declare the `volttron` exchanges before binding (needs configure rights on them). VOLTTRON
   * agents do not; leave it off when the router or `ensureVolttronBroker` has set the broker up.
   */
  readonly declareTopology?: boolean;
  /**
   * The VIP user put in the `user` header when a message has none: VOLTTRON's RabbitMQ user of
   * the agent, `<instance>.<identity>` by default (PROTOCOL.md 7.1/7.3). Receivers check
   * capabilities against it.
   */
  readonly user?: string;
  readonly logger?: Logger;
}

export interface RmqConnectionStats {
  sent: number;
  received: number;
  /** Deliveries that were not VIP (bad body, missing app_id/type): acked and dropped. */
  invalid: number;
  /** Inbound handler threw; the message was acked anyway. */
  handlerErrors: number;
  /** `send` called while reconnecting: rejected with TransportError, nothing queued. */
  rejectedWhileDisconnected: number;
  reconnects: number;
}

/**
 * The agent side of VIP over RabbitMQ (the seed's RMQConnection, PROTOCOL.md 7.2/7.3): one
 * exclusive auto-delete queue `<instance>.<identity>` bound to `volttron`, consumed with manual
 * acks after the handler ran; sends publish to `volttron` with routing key `<instance>.<peer>`
 * (empty peer = `router`), so peer-to-peer messages go through the broker, not the router.
 * An unknown recipient comes back from the router as a VIP `error` 113 (7.4).
 *
 * Reconnection: on any unexpected loss the link reconnects with back-off, re-declares and
 * re-binds the queue and reports `disconnected` / `retrying` / `connected`; the agent re-runs
 * its hello on `connected`. While disconnected, `send` rejects with TransportError (counted);
 * messages published to this agent meanwhile are dead-lettered and answered with error 113.
 */
export class RmqConnection implements AgentConnection {
  readonly kind = 'rmq' as const;
  readonly identity: string;
  readonly #o: RmqLinkOptions;
  readonly #declare: boolean;
  readonly #log: Logger;
  readonly #queue: string;
  readonly #user: Buffer;
  readonly #link: BrokerLink;
  readonly #status = new StatusListeners();
  readonly #stats: RmqConnectionStats = { sent: 0, received: 0, invalid: 0, handlerErrors: 0, rejectedWhileDisconnected: 0, reconnects: 0 };
  #handler: ((message: VipMessage) => void) | undefined;
  #channel: Channel | undefined;
  #opened?: Promise<void>;
  #closing = false;

  constructor(options: RmqConnectionOptions) {
    const { identity, declareTopology, user, logger, ...link } = options;
    this.#o = parseRmqLinkOptions(link, `RabbitMQ options of ${JSON.stringify(identity)}`);
    identityText(Buffer.from(identity, 'utf8'));
    if (identity === '') throw new TransportError('an RMQ agent needs a non-empty identity');
    this.identity = identity;
    this.#declare = declareTopology ?? false;
    this.#log = (logger ?? silentLogger).child({ identity });
    this.#queue = routingKeyFor(this.#o.instanceName, identity);
    this.#user = Buffer.from(user ?? this.#queue, 'utf8');
    this.#link = new BrokerLink(this.#o, `vip-agent ${this.#queue}`, {
      setup: (model) => this.#setup(model),
      down: () => {
        this.#channel = undefined;
      },
      status: (s) => this.#onLinkStatus(s),
    }, this.#log);
  }

  onMessage(handler: (message: VipMessage) => void): void {
    this.#handler = handler;
  }

  onStatus(listener: (status: ConnectionStatus) => void): () => void {
    return this.#status.add(listener);
  }

  open(): Promise<void> {
    if (this.#closing) return Promise.reject(new ClosedError(`RMQ connection ${this.identity}`));
    return (this.#opened ??= this.#link.open());
  }

  async send(message: VipMessage): Promise<void> {
    if (this.#closing) throw new ClosedError(`RMQ connection ${this.identity}`);
    const ch = this.#channel;
    if (!ch) {
      this.#stats.rejectedWhileDisconnected += 1;
      throw new TransportError(`RMQ connection ${this.identity} is not connected to the broker (reconnecting); message not sent`);
    }
    const m = message.user.length === 0 ? { ...message, user: this.#user } : message;
    const p = vipToAmqp(m, { instance: this.#o.instanceName, identity: this.identity });
    let ok: boolean;
    try {
      ok = ch.publish(p.exchange, p.routingKey, p.content, p.properties);
    } catch (err) {
      throw new TransportError(`RMQ publish from ${this.identity} failed`, { cause: err });
    }
    this.#stats.sent += 1;
    if (!ok) await waitForDrain(ch);
  }

  /** Counters (a copy). */
  stats(): RmqConnectionStats {
    return { ...this.#stats, reconnects: this.#link.reconnects };
  }

  close(): Promise<void> {
    this.#closing = true;
    return this.#link.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #setup(model: ChannelModel): Promise<void> {
    const ch = await model.createChannel();
    ch.on('error', (err: Error) => this.#log.debug('rmq.channel.error', {}, err));
    ch.on('close', () => {
      if (this.#channel === ch) this.#link.restart('channel closed');
    });
    if (this.#declare) await declareVolttronTopology(ch, this.#o.vhost);
    await ch.prefetch(this.#o.prefetch);
    try {
      await ch.assertQueue(this.#queue, { durable: false, exclusive: true, autoDelete: true });
      await ch.bindQueue(this.#queue, VOLTTRON_EXCHANGE, this.#queue);
    } catch (err) {
      throw queueDeclareError(err, this.#queue, this.#o.vhost);
    }
    await ch.consume(this.#queue, (msg) => this.#onDelivery(ch, msg), { noAck: false });
    this.#channel = ch;
  }

  #onDelivery(ch: Channel, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // consumer cancelled by the broker (queue deleted): start over
      this.#link.restart('consumer cancelled');
      return;
    }
    const vip = amqpToVip(msg);
    if (vip instanceof InvalidPayloadError) {
      this.#stats.invalid += 1;
      this.#log.debug('rmq.receive.invalid', { reason: vip.detail });
    } else {
      this.#stats.received += 1;
      try {
        this.#handler?.(vip.message);
      } catch (err) {
        this.#stats.handlerErrors += 1;
        this.#log.warn('rmq.receive.handler-failed', {}, err);
      }
    }
    try {
      ch.ack(msg);
    } catch (err) {
      // channel already gone: the queue goes with it (exclusive), nothing to redeliver
      this.#log.debug('rmq.ack.failed', {}, err);
    }
  }

  #onLinkStatus(s: ConnectionStatus): void {
    this.#status.emit(s);
  }
}
