import type { Channel, ConsumeMessage } from 'amqplib';
import { InvalidPayloadError, TransportError, type AgentConnection, type Frame, type Logger, type VipMessage } from '@vip/protocol';
import { amqpToVip, identityText, routingKeyFor, vipToAmqp, VOLTTRON_EXCHANGE, type InboundLimits } from './amqp-mapping.js';
import { BrokerClient } from './broker-client.js';
import { queueDeclareError } from './channel-tools.js';
import { ExternalRpcBridge } from './external-rpc-bridge.js';
import { PROXY_OUTBOUND_FRAME, proxyFrameListBody } from './proxy-frames.js';
import { PublishCache } from './publish-cache.js';
import { parseRmqLinkOptions, type RmqLinkOptionsInput } from './rmq-options.js';
import { publisherUserId, senderPolicyOf } from './sender-identity.js';
import { SpoofedSenderError, UnprovenPlatformIdentityError } from './sender-trust.js';

export interface RmqConnectionOptions extends RmqLinkOptionsInput {
  readonly identity: string;
  /**
   * Declare the `volttron` exchanges before binding (needs configure rights on them). VOLTTRON
   * agents do not; leave it off when the router or `ensureVolttronBroker` has set the broker up.
   */
  readonly declareTopology?: boolean;
  /**
   * The VIP user put in the `user` header when a message has none: VOLTTRON's RabbitMQ user of
   * the agent, `<instance>.<identity>` by default (docs/protocol.md 7.1/7.3). Receivers check
   * capabilities against it, unless the message carries a proving `user_id` (the broker user,
   * see sender-identity.ts), which they use instead.
   */
  readonly user?: string;
  /**
   * Whether a message for `peer` goes through the platform's ZeroMQ proxy router (the peer was
   * announced on the `zmq` bus): VOLTTRON's `send_via_proxy`, the frame list to
   * `<instance>.proxy.router.zmq.outbound.subsystem` (proxy-frames.ts). Default: never.
   */
  readonly viaProxy?: (peer: Frame) => boolean;
  readonly logger?: Logger;
}

export interface RmqConnectionStats {
  sent: number;
  /** Of `sent`: messages for ZeroMQ peers sent through the proxy router (`viaProxy`). */
  viaProxy: number;
  received: number;
  /** Deliveries that were not VIP (bad body, missing app_id/type): acked and dropped. */
  invalid: number;
  /**
   * Of `invalid`: refused senders (SpoofedSenderError): a user_id contradicting app_id, an agent
   * user acting as a platform identity, a platform identity without the platform's user_id where
   * proof is required.
   */
  spoofed: number;
  /** Delivered without proof where proof is required: handed on with an empty user (no capabilities). */
  unproven: number;
  /** Delivered without proof from a configured legacy peer (`legacyPeers`): its own user. */
  legacy: number;
  /** External RPC (7.8): calls and answers sent to another instance's peers (`<platform>.<peer>`). */
  externalSent: number;
  /** External RPC: calls and answers received from another instance (never proven: handed on with an empty user). */
  externalReceived: number;
  /**
   * Messages from another instance dropped: not RPC (nothing else is carried between platforms here),
   * or (proof required) RPC whose sender this broker did not prove (also in `externalUnproven`).
   */
  externalDropped: number;
  /** Of `externalDropped`: RPC from another instance without a proven sender where proofs are required. */
  externalUnproven: number;
  /** Inbound handler threw; the message was acked anyway (counted, logged). */
  handlerErrors: number;
  /** `send` called while reconnecting: rejected with TransportError, nothing queued. */
  rejectedWhileDisconnected: number;
  reconnects: number;
}

/**
 * The agent side of VIP over RabbitMQ (the seed's RMQConnection, docs/protocol.md 7.2/7.3): one
 * exclusive auto-delete queue `<instance>.<identity>` bound to `volttron`, consumed with manual
 * acks after the handler ran (batched; see declare); sends publish to `volttron` with routing key `<instance>.<peer>`
 * (empty peer = `router`), so peer-to-peer messages go through the broker, not the router.
 * An unknown recipient comes back from the router as a VIP `error` 113 (7.4).
 *
 * Reconnection: on any unexpected loss the link reconnects with back-off, re-declares and
 * re-binds the queue and reports `disconnected` / `retrying` / `connected`; the agent re-runs
 * its hello on `connected`. While disconnected, `send` rejects with TransportError (counted);
 * messages published to this agent meanwhile are dead-lettered and answered with error 113.
 */
export class RmqConnection extends BrokerClient implements AgentConnection {
  readonly kind = 'rmq' as const;
  readonly identity: string;
  readonly #queue: string;
  readonly #publishes: PublishCache;
  readonly #stats = {
    sent: 0,
    viaProxy: 0,
    received: 0,
    invalid: 0,
    spoofed: 0,
    unproven: 0,
    legacy: 0,
    externalSent: 0,
    externalReceived: 0,
    externalDropped: 0,
    handlerErrors: 0,
  };
  readonly #external: ExternalRpcBridge;
  readonly #viaProxy: ((peer: Frame) => boolean) | undefined;
  readonly #ctx: { readonly instance: string; readonly identity: string };
  readonly #userId: string | undefined;
  /** This agent's identity as the sender frame of a frame list sent through the proxy. */
  readonly #senderFrame: Buffer;
  readonly #defaultUser: Buffer;
  readonly #limits: InboundLimits;
  #warnedUnprovenPlatform = false;
  #handler: ((message: VipMessage) => void) | undefined;

  constructor(options: RmqConnectionOptions) {
    const { identity, declareTopology, user, logger, viaProxy, ...link } = options;
    const o = parseRmqLinkOptions(link, `RabbitMQ options of ${JSON.stringify(identity)}`);
    if (identity === '') throw new TransportError('an RMQ agent needs a non-empty identity');
    identityText(Buffer.from(identity, 'utf8'));
    const queue = routingKeyFor(o.instanceName, identity);
    const userId = publisherUserId(o, identity);
    super(o, `RMQ connection ${identity}`, `vip-agent ${queue}`, declareTopology ?? false, logger?.child({ identity }), userId);
    this.identity = identity;
    this.#queue = queue;
    this.#defaultUser = Buffer.from(user ?? queue, 'utf8');
    this.#publishes = new PublishCache({ instance: o.instanceName, identity }, this.#defaultUser, userId);
    this.#limits = { maxBytes: o.maxMessageBytes, policy: senderPolicyOf(o, identity) };
    this.#viaProxy = viaProxy;
    this.#ctx = { instance: o.instanceName, identity };
    this.#userId = userId;
    this.#senderFrame = Buffer.from(identity, 'utf8');
    this.#external = new ExternalRpcBridge(this.#ctx, this.#limits.policy?.proof === 'required');
  }

  /** Whether unproven senders get no user here (sender-trust.ts): the client's login or `senderProof`. */
  get senderProof(): 'required' | 'optional' {
    return this.#limits.policy!.proof;
  }

  onMessage(handler: (message: VipMessage) => void): void {
    this.#handler = handler;
  }

  async send(message: VipMessage): Promise<void> {
    this.checkOpen();
    const external = message.peer.length === 0 ? this.#external.outbound(message) : undefined;
    if (external !== undefined) {
      // a call or answer for another platform: `<platform>.<peer>`, carried by the RPC shovel (7.8)
      const m = external.message.user.length > 0 ? external.message : { ...external.message, user: this.#defaultUser };
      const options = { platform: external.platform, ...(this.#userId === undefined ? {} : { userId: this.#userId }) };
      await this.publishAmqp(vipToAmqp(m, this.#ctx, options), 'message');
      this.#stats.externalSent += 1;
    } else if (message.peer.length > 0 && this.#viaProxy?.(message.peer) === true) {
      // viaProxyPublish's wire format; properties from the publish cache (the inbox as peer), args encoded once, in the frame list
      const withUser = message.user.length > 0 ? message : { ...message, user: this.#defaultUser };
      const body = proxyFrameListBody(withUser, this.#senderFrame);
      await this.publishAmqp(this.#publishes.toAmqp({ ...withUser, peer: PROXY_OUTBOUND_FRAME }, body), 'message');
      this.#stats.viaProxy += 1;
    } else {
      await this.publishAmqp(this.#publishes.toAmqp(message), 'message');
    }
    this.#stats.sent += 1;
  }

  /** Counters (a copy). */
  stats(): RmqConnectionStats {
    return {
      ...this.#stats,
      externalUnproven: this.#external.unproven,
      rejectedWhileDisconnected: this.rejectedWhileDisconnected,
      reconnects: this.reconnects,
    };
  }

  protected async declare(ch: Channel): Promise<void> {
    try {
      await ch.assertQueue(this.#queue, { durable: false, exclusive: true, autoDelete: true });
      await ch.bindQueue(this.#queue, VOLTTRON_EXCHANGE, this.#queue);
    } catch (err) {
      throw queueDeclareError(err, this.#queue, this.options.vhost);
    }
    // Manual acks after the handler ran (VOLTTRON's contract, docs/protocol.md 7.2), sent in batches
    // (DeferredAcks). With the channel's prefetch they are what keeps a flooded agent's backlog in
    // the broker's queue instead of in this process's memory: without acks the broker pushes as
    // fast as the socket takes it. Measured cost: ~20 us of broker CPU per delivery.
    await ch.consume(this.#queue, (msg) => this.#onDelivery(ch, msg), { noAck: false });
  }

  #onDelivery(ch: Channel, msg: ConsumeMessage | null): void {
    if (msg === null) return this.restart('consumer cancelled', ch); // queue deleted under us: start over
    const vip = amqpToVip(msg, this.#limits);
    if (vip instanceof InvalidPayloadError) {
      this.#stats.invalid += 1;
      if (vip instanceof SpoofedSenderError) this.#stats.spoofed += 1;
      this.log.debug(vip instanceof SpoofedSenderError ? 'rmq.receive.spoofed' : 'rmq.receive.invalid', { reason: vip.detail });
      if (vip instanceof UnprovenPlatformIdentityError && !this.#warnedUnprovenPlatform) {
        // once: a platform on a shared login looks exactly like this, and this agent would wait for a welcome it refused
        this.#warnedUnprovenPlatform = true;
        this.log.warn('rmq.receive.unproven-platform', {
          claimed: vip.claimed,
          userId: vip.userId,
          hint: 'refused (and will refuse) the platform\'s identities without its user_id; if the platform runs with --rmq-shared-login, give this client senderProof: "optional"',
        });
      }
    } else {
      const message = this.#external.inbound(vip);
      if (message === null) {
        this.#stats.externalDropped += 1;
        return this.ack(ch, msg);
      }
      this.#stats.received += 1;
      if (vip.platform !== this.#ctx.instance) this.#stats.externalReceived += 1;
      else if (vip.trust === 'anonymous') this.#stats.unproven += 1;
      else if (vip.trust === 'legacy') this.#stats.legacy += 1;
      try {
        this.#handler?.(message);
      } catch (err) {
        this.#stats.handlerErrors += 1;
        this.log.warn('rmq.receive.handler-failed', {}, err);
      }
    }
    this.ack(ch, msg);
  }
}
