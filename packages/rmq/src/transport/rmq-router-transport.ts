import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, Message } from 'amqplib';
import {
  EMPTY_FRAME,
  ERRNO,
  ERRNO_MESSAGES,
  identityKey,
  InvalidPayloadError,
  ProtocolError,
  silentLogger,
  textFrame,
  type ConnectionStatus,
  type DeliveryResult,
  type Frame,
  type Logger,
  type RouterTransport,
  type RouterTransportHandlers,
} from '@vip/protocol';
import {
  amqpToVip,
  type InboundLimits,
  type InboundVip,
  ROUTER_IDENTITY,
  routingKeyFor,
  splitRoutingKey,
  UNDELIVERABLE_EXCHANGE,
  vipToAmqp,
  VOLTTRON_EXCHANGE,
} from './amqp-mapping.js';
import { BrokerLink } from './broker-link.js';
import type { LinkSession } from './link-session.js';
import { declareVolttronTopology } from './topology.js';
import { externalDeadLetter } from './external-dead-letter.js';
import { queueDeclareError } from './channel-tools.js';
import { PeerSweep } from './peer-sweep.js';
import { ManagementReads, type ManagementOptions } from './management-reads.js';
import { parseRmqLinkOptions, type RmqLinkOptions, type RmqLinkOptionsInput } from './rmq-options.js';
import { publisherUserId, senderPolicyOf, verifyPublisherUserId } from './sender-identity.js';
import { SpoofedSenderError } from './sender-trust.js';
import { StatusListeners } from './status-listeners.js';

export interface RmqRouterTransportOptions extends RmqLinkOptionsInput {
  readonly logger?: Logger;
  /** How often known peers' queues are checked to report `peer-gone` (ms; 0 = never). */
  readonly peerSweepMs?: number;
  /**
   * Management API: lets the peer sweep list queues in one request instead of a channel per peer.
   * (The permission check before a welcome is the router's: `HelloPermissionCheck`.)
   */
  readonly management?: ManagementOptions;
  /**
   * Bytes of deliveries published and not yet confirmed by the broker (held by amqplib and us);
   * past it deliver() answers 'again' (error 11 to the sender) instead of buffering without bound,
   * e.g. while the broker blocks publishers on a memory alarm. Default 256 MiB.
   */
  readonly maxPendingBytes?: number;
  /**
   * Whether this router has a platform link of its own to a platform (the proxy router's links to
   * ZeroMQ platforms): an agent's external call to it, dead-lettered because no shovel or federation
   * binds `<platform>.<peer>`, goes to the core as the caller's `external_rpc send_platform`
   * (external-dead-letter.ts) instead of being answered with error 113.
   */
  readonly platformLinks?: (platform: string) => boolean;
}

export interface RmqRouterStats {
  received: number;
  invalid: number;
  /**
   * Of `invalid`: refused senders (SpoofedSenderError): user_id contradicting app_id, a platform
   * identity claimed without the platform's user_id (proof required). (Who may stop whom is the
   * router's rule: its counters `agentstop refused` / `agentstop unproven`.)
   */
  spoofed: number;
  /** Router-queue messages without proof where proof is required: handed to the core with an empty user (no rights). */
  unproven: number;
  /** Router-queue messages without proof from configured legacy peers: their own user. */
  legacy: number;
  delivered: number;
  /** deliver() found no queue for the peer (basic.return of a mandatory publish). */
  unreachable: number;
  /** deliver() while reconnecting, nacked by the broker, or too large. */
  again: number;
  /** deliver() refused (as 'again') because the body exceeds maxMessageBytes. */
  oversize: number;
  /** deliver() refused (as 'again') because maxPendingBytes await the broker's confirm. */
  backlog: number;
  /** Bytes published and not yet confirmed, now. */
  pendingBytes: number;
  /** Dead-lettered messages handed to the core as forwards (answered with error 113 when still unroutable). */
  deadLetters: number;
  /** Dead-lettered pubsub publishes without subscribers: ignored (docs/protocol.md 7.4). */
  deadPubsub: number;
  /**
   * Dead-lettered messages from another instance (an external call over an RPC shovel to a peer
   * that is not here): answered with error 113 to `<their instance>.<sender>`, as VOLTTRON's router
   * answers to `app_id`, so the reverse shovel takes it back (docs/protocol.md 7.8).
   */
  deadExternal: number;
  /** Dead-lettered external calls of this instance's agents handed to the core for a platform link (external-dead-letter.ts). */
  deadToLink: number;
  /** Of those, refused: the sender unproven where proof is required (answered with error 113 instead). */
  deadToLinkUnproven: number;
  reconnects: number;
}

interface PendingDelivery {
  returned: boolean;
}

/**
 * The router side of VIP over RabbitMQ (the seed's RMQRouterConnection, docs/protocol.md 7.4/7.5).
 *
 * - Declares the VOLTTRON exchanges, consumes `<instance>.router` (router-addressed messages)
 *   and `<instance>.router.unroutable` (bound to the `undeliverable` alternate exchange).
 * - Agents publish peer-to-peer straight through the broker; the router sees only messages for
 *   it, plus dead letters. A dead letter (not pubsub) is handed to the core as a message from
 *   its sender to its recipient; the core forwards it as on ZMQ, and that one deliver() resolves
 *   'unreachable' without publishing (the broker already found no queue; delivering it late
 *   would reorder the sender's stream), so the core answers error 113 (docs/protocol.md 7.4).
 * - deliver() publishes on a confirm channel to the default exchange (queue = `<instance>.<peer>`)
 *   with `mandatory`: a missing queue comes back as basic.return before the confirm, giving
 *   'unreachable' for that delivery; a nack or a lost channel gives 'again'. (Through `volttron`
 *   the alternate exchange would swallow the return.) Router replies are thus confirmed.
 * - peer-connected on the first message of an identity; peer-gone ('closed') when a periodic
 *   passive check finds the peer's queue gone (agents' queues are exclusive and auto-delete),
 *   ('unreachable') when a delivery to it bounced. The user id is the proven user_id or the
 *   `user` header (userOf); a user_id `<instance>.<x>` with another app_id is refused (spoofed).
 * - It reads no subsystem: what a message may do is the router's business (the hello permission
 *   check is a router extension, HelloPermissionCheck; who may stop whom, the router's rule on the
 *   user handed over here: an unproven sender gets none, see `requiresProof`).
 * - Reconnects like RmqConnection; deliveries while disconnected resolve 'again'.
 */
export class RmqRouterTransport implements RouterTransport {
  readonly kind = 'rmq' as const;
  readonly #o: RmqLinkOptions;
  readonly #log: Logger;
  readonly #link: BrokerLink;
  readonly #status = new StatusListeners();
  readonly #sweep: PeerSweep;
  readonly #known = new Map<string, Frame>();
  /** The user proven by the first message of each known peer (its broker user; '' unproven), for `userFor`. */
  readonly #users = new Map<string, string>();
  /** When each known peer last sent the router something (Date.now()): a sweep older than that is stale. */
  readonly #seenAt = new Map<string, number>();
  readonly #pending = new Map<string, PendingDelivery>();
  /** Dead letters handed to the core, awaiting its forward (bounded, oldest evicted). */
  readonly #dead = new Set<string>();
  readonly #stats: RmqRouterStats = {
    received: 0,
    invalid: 0,
    spoofed: 0,
    unproven: 0,
    legacy: 0,
    delivered: 0,
    unreachable: 0,
    again: 0,
    oversize: 0,
    backlog: 0,
    pendingBytes: 0,
    deadLetters: 0,
    deadExternal: 0,
    deadToLink: 0,
    deadToLinkUnproven: 0,
    deadPubsub: 0,
    reconnects: 0,
  };
  readonly #maxPendingBytes: number;
  readonly #platformLinks: ((platform: string) => boolean) | undefined;
  readonly #limits: InboundLimits;
  #handlers: RouterTransportHandlers | undefined;
  #confirm: ConfirmChannel | undefined;
  #seq = 0;
  /** user_id of the router's own messages: only with the broker user `<instance>.router` (see constructor). */
  readonly #userId: string | undefined;
  #userIdVerified = false;
  #started?: Promise<void>;
  #closing = false;

  constructor(options: RmqRouterTransportOptions) {
    const { logger, peerSweepMs, management, maxPendingBytes, platformLinks, ...link } = options;
    this.#maxPendingBytes = maxPendingBytes ?? 256 * 1024 * 1024;
    this.#platformLinks = platformLinks;
    this.#o = parseRmqLinkOptions(link, 'RabbitMQ router options');
    this.#log = (logger ?? silentLogger).child({ identity: ROUTER_IDENTITY });
    this.#limits = { maxBytes: this.#o.maxMessageBytes, policy: senderPolicyOf(this.#o, ROUTER_IDENTITY) };
    // Only the router's own messages, and only on a per-instance user `<instance>.router`: forwards
    // and the platform's services carry other identities' app_ids, which a receiver would refuse
    // next to that user_id; a shared user (guest) proves no identity, so it is not set at all.
    const own = publisherUserId(this.#o, ROUTER_IDENTITY);
    this.#userId = own === routingKeyFor(this.#o.instanceName, ROUTER_IDENTITY) ? own : undefined;
    const api = management ? new ManagementReads(management) : undefined;
    this.#link = new BrokerLink(
      this.#o,
      `vip-router ${this.#o.instanceName}`,
      {
        setup: (session) => this.#setup(session),
        down: () => {
          this.#confirm = undefined;
          this.#sweep.pause();
        },
        status: (s) => this.#status.emit(s),
      },
      this.#log,
    );
    this.#sweep = new PeerSweep({
      intervalMs: peerSweepMs ?? 5_000,
      graceMs: 2 * this.#o.reconnect.maxDelayMs,
      queueOf: (key) => routingKeyFor(this.#o.instanceName, knownIdentity(this.#known.get(key))),
      peers: () => [...this.#known.keys()],
      gone: (key, askedAt) => {
        // The listing was asked for before the peer's last message: it may predate a reconnect
        // (new queue), and a `peerlist drop` now would fail calls made to the live peer.
        if ((this.#seenAt.get(key) ?? 0) >= askedAt) return;
        this.#peerGone(key, 'closed');
      },
      ...(api ? { listQueues: () => api.listQueues(this.#o.vhost) } : {}),
      logger: this.#log,
    });
  }

  get instanceName(): string {
    return this.#o.instanceName;
  }

  /**
   * Where proofs are required (per-agent broker users, the default), a sender without one reaches
   * the router with an empty user, which then means no user at all (RouterTransport.requiresProof).
   */
  get requiresProof(): boolean {
    return this.#limits.policy?.proof === 'required';
  }

  start(handlers: RouterTransportHandlers): Promise<void> {
    this.#handlers = handlers;
    return (this.#started ??= this.#link.open());
  }

  onStatus(listener: (status: ConnectionStatus) => void): () => void {
    return this.#status.add(listener);
  }

  deliver(to: Frame, from: Frame, user: Frame, id: Frame, subsystem: Frame, args: readonly Frame[]): Promise<DeliveryResult> {
    if (this.#closing) return Promise.resolve('unreachable');
    if (this.#dead.size > 0 && this.#dead.delete(deadKey(to, from, id))) {
      this.#stats.unreachable += 1;
      this.#forget(to);
      return Promise.resolve('unreachable');
    }
    const ch = this.#confirm;
    if (!ch) {
      this.#stats.again += 1;
      return Promise.resolve('again');
    }
    let p;
    try {
      p = vipToAmqp(
        { peer: to, user, id, subsystem, args },
        { instance: this.#o.instanceName, identity: from.length === 0 ? ROUTER_IDENTITY : from.toString('utf8') },
      );
    } catch (err) {
      // an identity RabbitMQ cannot carry cannot have a queue either
      if (!(err instanceof ProtocolError)) throw err;
      this.#stats.unreachable += 1;
      return Promise.resolve('unreachable');
    }
    if (p.content.length > this.#o.maxMessageBytes) {
      // the broker would close the channel (a reconnect for everyone): refuse this one message
      this.#stats.oversize += 1;
      this.#stats.again += 1;
      return Promise.resolve('again');
    }
    const bytes = p.content.length;
    if (this.#stats.pendingBytes + bytes > this.#maxPendingBytes) {
      this.#stats.backlog += 1;
      this.#stats.again += 1;
      return Promise.resolve('again');
    }
    this.#stats.pendingBytes += bytes;
    const seq = String(++this.#seq);
    const pending: PendingDelivery = { returned: false };
    this.#pending.set(seq, pending);
    return new Promise<DeliveryResult>((resolve) => {
      const settle = (err: unknown): void => {
        this.#pending.delete(seq);
        this.#stats.pendingBytes -= bytes;
        let r: DeliveryResult = 'ok';
        if (err) r = 'again';
        else if (pending.returned) r = 'unreachable';
        if (r === 'ok') this.#stats.delivered += 1;
        else this.#stats[r] += 1;
        if (r === 'unreachable') this.#forget(to);
        resolve(r);
      };
      try {
        const userId = from.length === 0 ? this.#userId : undefined;
        ch.publish(
          '',
          p.routingKey,
          p.content,
          { ...p.properties, mandatory: true, correlationId: seq, ...(userId === undefined ? {} : { userId }) },
          settle,
        );
      } catch (err) {
        settle(err);
      }
    });
  }

  /** The user proven for a known peer when it joined (its broker user, as stamped in user_id); undefined when unknown. */
  userFor(identity: Frame | string): string | undefined {
    return this.#users.get(identityKey(typeof identity === 'string' ? Buffer.from(identity, 'utf8') : identity));
  }

  /** Counters (a copy). */
  stats(): RmqRouterStats {
    return { ...this.#stats, reconnects: this.#link.reconnects };
  }

  close(): Promise<void> {
    this.#closing = true;
    this.#sweep.stop();
    return this.#link.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #setup(session: LinkSession): Promise<void> {
    const { model } = session;
    const inst = this.#o.instanceName;
    if (this.#userId !== undefined && !this.#userIdVerified) {
      await verifyPublisherUserId(session, this.#userId, this.#o, this.#log); // once: a refusal fails start(), not a reconnect loop
      this.#userIdVerified = true;
    }
    const ch = await session.createChannel();
    this.#watch(model, ch, 'consume');
    await declareVolttronTopology(ch, this.#o.vhost);
    await ch.prefetch(this.#o.prefetch);
    const own = routingKeyFor(inst, ROUTER_IDENTITY);
    const dead = `${own}.unroutable`;
    try {
      await ch.assertQueue(own, { durable: false, exclusive: true, autoDelete: true });
      await ch.bindQueue(own, VOLTTRON_EXCHANGE, own);
      await ch.assertQueue(dead, { durable: false, exclusive: true, autoDelete: true });
      await ch.bindQueue(dead, UNDELIVERABLE_EXCHANGE, '');
    } catch (err) {
      throw queueDeclareError(err, own, this.#o.vhost);
    }
    const confirm = await session.createConfirmChannel();
    this.#watch(model, confirm, 'confirm');
    confirm.on('return', (msg: Message) => {
      const seq = msg.properties.correlationId as unknown;
      const pending = typeof seq === 'string' ? this.#pending.get(seq) : undefined;
      if (pending) pending.returned = true;
    });
    await ch.consume(own, (msg) => this.#onRouterMessage(model, ch, msg), { noAck: false });
    await ch.consume(dead, (msg) => this.#onDeadLetter(model, ch, msg), { noAck: false });
    const probe = await model.createChannel();
    this.#confirm = confirm;
    this.#sweep.resume(model, probe);
  }

  #watch(model: ChannelModel, ch: Channel, name: string): void {
    ch.on('error', (err: Error) => this.#log.debug('rmq.channel.error', { channel: name }, err));
    ch.on('close', () => {
      if (!this.#closing) this.#link.restart(`${name} channel closed`, model);
    });
  }

  #onRouterMessage(model: ChannelModel, ch: Channel, msg: ConsumeMessage | null): void {
    if (msg === null) return this.#link.restart('router consumer cancelled', model);
    const vip = amqpToVip(msg, this.#limits);
    if (vip instanceof InvalidPayloadError || vip.message.peer.length === 0) {
      this.#refused(vip);
      ackQuietly(ch, msg);
      return;
    }
    this.#stats.received += 1;
    if (vip.trust === 'anonymous') this.#stats.unproven += 1;
    else if (vip.trust === 'legacy') this.#stats.legacy += 1;
    this.#handOver(vip.message.peer, EMPTY_FRAME, vip);
    ackQuietly(ch, msg);
  }

  #onDeadLetter(model: ChannelModel, ch: Channel, msg: ConsumeMessage | null): void {
    if (msg === null) return this.#link.restart('unroutable consumer cancelled', model);
    const vip = amqpToVip(msg, this.#limits);
    if (vip instanceof InvalidPayloadError || vip.message.peer.length === 0) {
      this.#refused(vip);
    } else if (vip.message.subsystem.toString('utf8') === 'pubsub') {
      this.#stats.deadPubsub += 1;
    } else if (vip.platform !== this.#o.instanceName) {
      this.#stats.deadExternal += 1;
      this.#answerUnroutable(ch, vip, msg.fields.routingKey);
    } else if (!this.#toPlatformLink(vip, msg.fields.routingKey)) {
      this.#stats.deadLetters += 1;
      const key = splitRoutingKey(msg.fields.routingKey);
      // local recipient: its bare identity; another instance, or no identity at all (`<instance>.`,
      // which the core would take for the router itself): the whole key, unreachable from here
      const local = key !== undefined && key.instance === this.#o.instanceName && key.identity !== '';
      const recipient = Buffer.from(local ? key.identity : msg.fields.routingKey, 'utf8');
      this.#dead.add(deadKey(recipient, vip.message.peer, vip.message.id));
      if (this.#dead.size > MAX_DEAD_PENDING) this.#dead.delete(this.#dead.values().next().value as string);
      this.#handOver(vip.message.peer, recipient, vip);
    }
    ackQuietly(ch, msg);
  }

  /** A dead external call for one of the router's platform links: handed to the core as `send_platform` (true), else false. */
  #toPlatformLink(vip: InboundVip, routingKey: string): boolean {
    const d = externalDeadLetter(vip, routingKey, this.#o.instanceName, this.#platformLinks, this.requiresProof);
    if (d.kind === 'none') return false;
    if (d.kind === 'unproven') {
      this.#stats.deadToLinkUnproven += 1;
      return false;
    }
    this.#stats.deadToLink += 1;
    this.#handOver(vip.message.peer, EMPTY_FRAME, { ...vip, message: d.message });
    return true;
  }

  /** Error 113 for a message of another instance nobody here takes, to its sender there (never to a local namesake). */
  #answerUnroutable(ch: Channel, vip: InboundVip, recipient: string): void {
    const subsystem = vip.message.subsystem.toString('utf8');
    if (subsystem === 'error') return; // never answer an error with an error (two platforms could bounce them forever)
    try {
      const p = vipToAmqp(
        {
          peer: vip.message.peer,
          user: EMPTY_FRAME,
          id: vip.message.id,
          subsystem: textFrame('error'),
          args: [
            textFrame(String(ERRNO.EHOSTUNREACH)),
            textFrame(ERRNO_MESSAGES[ERRNO.EHOSTUNREACH]!),
            textFrame(recipient),
            textFrame(subsystem),
          ],
        },
        { instance: this.#o.instanceName, identity: ROUTER_IDENTITY },
        { platform: vip.platform },
      );
      ch.publish(p.exchange, p.routingKey, p.content, p.properties);
    } catch (err) {
      this.#log.debug('rmq.router.unroutable-answer-failed', { reason: (err as Error).message });
    }
  }

  /** Count a delivery that is not VIP, or that claims the router's identity, or a spoofed sender. */
  #refused(vip: InboundVip | InvalidPayloadError): void {
    this.#stats.invalid += 1;
    if (vip instanceof SpoofedSenderError) {
      this.#stats.spoofed += 1;
      this.#log.debug('rmq.router.spoofed', { reason: vip.detail });
    }
  }

  #handOver(sender: Frame, recipient: Frame, vip: InboundVip): void {
    const h = this.#handlers;
    if (!h) return;
    const key = identityKey(sender);
    this.#seenAt.set(key, Date.now());
    if (!this.#known.has(key)) {
      this.#known.set(key, sender);
      this.#users.set(key, userOf(vip));
      safely(this.#log, () => h.peerEvent?.({ type: 'peer-connected', peer: sender, user: userOf(vip) }));
    }
    const m = vip.message;
    safely(this.#log, () => h.message({ sender, recipient, user: m.user, id: m.id, subsystem: m.subsystem, args: m.args }, userOf(vip)));
  }

  #forget(peer: Frame): void {
    this.#peerGone(identityKey(peer), 'unreachable');
  }

  /** Every peer-connected is matched by one peer-gone: queue found gone (closed) or a delivery bounced (unreachable). */
  #peerGone(key: string, reason: 'closed' | 'unreachable'): void {
    const peer = this.#known.get(key);
    if (!peer) return;
    this.#known.delete(key);
    this.#users.delete(key);
    this.#seenAt.delete(key);
    const h = this.#handlers;
    if (h) safely(this.#log, () => h.peerEvent?.({ type: 'peer-gone', peer, reason }));
  }
}

const MAX_DEAD_PENDING = 4_096;

/**
 * The sender's user on RMQ: what amqpToVip judged (sender-trust.ts) and put in `message.user`:
 * the user RabbitMQ proved by user_id, a legacy peer's own user, or empty for an anonymous sender
 * (proof required, none given: no capabilities). Where proof is optional (shared login) the `user`
 * header as the publisher wrote it (agents send `<instance>.<identity>` by default, docs/protocol.md
 * 7.1/7.3), else `<instance>.<identity>` from app_id: asserted, as on VOLTTRON.
 */
function userOf(vip: InboundVip): string {
  if (vip.trust === 'anonymous') return '';
  return vip.message.user.length > 0 ? vip.message.user.toString('utf8') : `${vip.platform}.${vip.senderIdentity}`;
}

function deadKey(to: Frame, from: Frame, id: Frame): string {
  return `${identityKey(to)}\u0000${identityKey(from)}\u0000${identityKey(id)}`;
}

function knownIdentity(frame: Frame | undefined): string {
  return frame ? frame.toString('utf8') : '';
}

function ackQuietly(ch: Channel, msg: Message): void {
  try {
    ch.ack(msg);
  } catch {
    // channel gone; the broker requeues or drops with the exclusive queue
  }
}

function safely(log: Logger, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    log.warn('rmq.router.handler-failed', {}, err);
  }
}
