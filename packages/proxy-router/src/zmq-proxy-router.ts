import {
  EMPTY_FRAME,
  ERRNO,
  errorArgs,
  frameText,
  identityKey,
  InvalidPayloadError,
  silentLogger,
  textFrame,
  type DeliveryResult,
  type Frame,
  type Logger,
  type PeerEvent,
  type RoutedMessage,
  type VipMessage,
} from '@vip/protocol';
import { isPlatformIdentity, PROXY_OUTBOUND_IDENTITY, readProxyFrames, RmqConnection } from '@vip/rmq';
import { ProxyPeerRefusedError } from './errors.js';
import { PeerPubSub } from './peer-pubsub.js';
import { RefusalMemory } from './refusal-memory.js';
import { RouterRequests } from './router-requests.js';
import type { ZmqProxyRouterOptions, ZmqProxyRouterStats } from './zmq-proxy-router-options.js';

const WELCOME = textFrame('welcome');
const VERSION = textFrame('1.0');
const ERROR = textFrame('error');

/** One ZeroMQ peer on the RabbitMQ side: its queue `<instance>.<identity>` (the identity's lock) and its pubsub. */
interface HostedPeer {
  readonly frame: Frame;
  readonly user: Frame;
  readonly link: RmqConnection;
  pubsub?: PeerPubSub;
  /** Its messages, one after the other (a subscribe is in place before the publish that follows it). */
  chain: Promise<void>;
  /** Bytes of its messages on the chain, not yet handed to RabbitMQ. */
  pendingBytes: number;
}

const DEFAULT_PEER_PENDING_BYTES = 16 * 1024 * 1024;
const sizeOf = (m: RoutedMessage): number =>
  m.args.reduce((n, a) => n + a.length, m.recipient.length + m.id.length + m.subsystem.length + 64);

/**
 * VOLTTRON's `ZMQProxyRouter` (docs/protocol.md 6.5): ZeroMQ agents on a RabbitMQ platform. The
 * proxy binds a ZeroMQ ROUTER (the transport), takes each ZeroMQ peer's identity and user from what
 * that bus proved (CURVE key and auth.json, never a frame), and for each peer that says hello:
 * declares the peer's exclusive queue `<instance>.<identity>` on RabbitMQ (so an RMQ agent and a
 * ZMQ agent cannot hold one identity; a held one is refused), tells the RMQ router
 * `peerlist add <peer> zmq` and waits for its answer, then welcomes the peer. Then:
 * - a message for another ZeroMQ peer here goes straight across the ROUTER;
 * - any other message (RPC to an RMQ agent, peerlist, query to the router) is published on
 *   RabbitMQ as from the peer (app_id `<instance>.<peer>`, user header = its proven user, AMQP
 *   user_id = the proxy's user), frames byte-exact (@vip/rmq's mapping);
 * - what arrives in the peer's queue (answers, calls of RMQ agents, the router's replies) and what
 *   RMQ agents send the proxy inbox `<instance>.proxy.router.zmq.outbound.subsystem` as ZeroMQ
 *   frame lists (their sender checked against the broker's proof) is written on the ROUTER;
 * - `pubsub` is served on the broker on the peer's behalf (PeerPubSub);
 * - `agentstop` of itself, or the peer's connection gone: `peerlist drop <peer> zmq`, queue closed.
 */
export class ZmqProxyRouter {
  readonly #o: ZmqProxyRouterOptions;
  readonly #log: Logger;
  readonly #peers = new Map<string, HostedPeer>();
  readonly #joining = new Map<string, Promise<HostedPeer>>();
  readonly #router: RouterRequests;
  readonly #inbox: RmqConnection;
  readonly #stats = {
    fromZmq: 0,
    toZmq: 0,
    viaInbox: 0,
    refused: 0,
    spoofed: 0,
    undeliverable: 0,
    zmqFailures: 0,
    dropped: 0,
    fromLinks: 0,
    unauthorized: 0,
  };
  /** Peers whose departure is being told to the router: a return of the same identity waits for it. */
  readonly #leaving = new Map<string, Promise<void>>();
  /** Bytes of messages waiting for a peer's join, by identity (bounded like a hosted peer's). */
  readonly #joiningBytes = new Map<string, number>();
  readonly #refused = new RefusalMemory();
  readonly #mayHold: (identity: string, userId: string) => boolean;
  readonly #maxPending: number;
  readonly #routerIdentity: Frame;
  readonly #instance: string;
  #started: Promise<void> | undefined;
  #closed: Promise<void> | undefined;

  constructor(options: ZmqProxyRouterOptions) {
    this.#o = options;
    this.#log = options.logger ?? silentLogger;
    this.#routerIdentity = textFrame(options.routerIdentity ?? 'router');
    this.#instance = options.rmq.instanceName;
    this.#maxPending = options.peerPendingBytes ?? DEFAULT_PEER_PENDING_BYTES;
    this.#mayHold = options.mayHold ?? ((identity) => !isPlatformIdentity(identity));
    this.#router = new RouterRequests(options.rmq, this.#log);
    this.#inbox = new RmqConnection({ ...options.rmq, identity: PROXY_OUTBOUND_IDENTITY, logger: this.#log });
    this.#inbox.onMessage((m) => this.#fromInbox(m));
  }

  /** Open the RabbitMQ side, then bind the ZeroMQ side. Idempotent. */
  start(): Promise<void> {
    return (this.#started ??= (async () => {
      await this.#router.open();
      await this.#inbox.open();
      await this.#o.transport.start({
        message: (m, userId) => this.#fromZmq(m, userId),
        peerEvent: (e) => this.#peerEvent(e),
      });
    })());
  }

  /** The ZeroMQ peers hosted now. */
  peers(): string[] {
    return [...this.#peers.values()].map((p) => frameText(p.frame));
  }

  stats(): ZmqProxyRouterStats {
    return { peers: this.#peers.size, ...this.#stats };
  }

  /** Drop every ZeroMQ peer (the router hears `peerlist drop`), close both sides. Idempotent. */
  close(): Promise<void> {
    return (this.#closed ??= (async () => {
      await this.#o.transport.close();
      for (const peer of [...this.#peers.values()]) await this.#leave(peer);
      await Promise.all(this.#leaving.values());
      await this.#inbox.close();
      await this.#router.close();
    })());
  }

  /**
   * Write a message on the ROUTER to `to` (a remote platform's link: `from` empty, the router's
   * word). Never throws.
   */
  deliverToZmq(to: Frame, user: Frame, id: Frame, subsystem: Frame, args: readonly Frame[]): Promise<DeliveryResult> {
    return this.#o.transport.deliver(to, EMPTY_FRAME, user, id, subsystem, args).catch(() => 'unreachable' as const);
  }

  #fromZmq(m: RoutedMessage, userId: string): void {
    this.#stats.fromZmq += 1;
    const links = this.#o.platformLinks;
    if (links?.isLink(userId)) {
      // a remote platform's link, proven by its key: never a peer of this platform
      this.#stats.fromLinks += 1;
      links.fromLink(userId, m);
      return;
    }
    const key = identityKey(m.sender);
    const hosted = this.#peers.get(key);
    if (hosted) {
      this.#enqueue(hosted, m);
      return;
    }
    // the first message of a peer (normally its hello) opens its RabbitMQ side; later ones wait for it.
    // Its user on RabbitMQ is `<instance>.<proven user>`, as an RMQ agent's is (receivers strip the instance)
    const proven = userId === '' ? frameText(m.sender) : userId;
    const user = textFrame(`${this.#instance}.${proven}`);
    const refused = this.#refused.recent(key);
    if (refused) return this.#refuse(m, user, refused);
    const size = sizeOf(m);
    const waiting = this.#joiningBytes.get(key) ?? 0;
    if (waiting + size > this.#maxPending) return this.#drop(m);
    this.#joiningBytes.set(key, waiting + size);
    let joining = this.#joining.get(key);
    if (!joining) {
      joining = this.#join(m.sender, proven, user).finally(() => {
        this.#joining.delete(key);
        this.#joiningBytes.delete(key);
      });
      this.#joining.set(key, joining);
    }
    joining.then(
      (peer) => this.#enqueue(peer, m),
      (err: unknown) => {
        if (err instanceof ProxyPeerRefusedError) this.#refused.remember(key, err);
        this.#refuse(m, user, err);
      },
    );
  }

  /** A message over the peer's byte bound: dropped, counted, error 11 to the sender. */
  #drop(m: RoutedMessage): void {
    this.#stats.dropped += 1;
    void this.#o.transport.deliver(m.sender, EMPTY_FRAME, EMPTY_FRAME, m.id, ERROR, errorArgs(ERRNO.EAGAIN, m.recipient, m.subsystem));
  }

  /** Queue `m` behind the peer's earlier messages, bounded in bytes (error 11 beyond). */
  #enqueue(peer: HostedPeer, m: RoutedMessage): void {
    const size = sizeOf(m);
    if (peer.pendingBytes + size > this.#maxPending) return this.#drop(m);
    peer.pendingBytes += size;
    peer.chain = peer.chain
      .then(() => this.#route(peer, m))
      .catch((err: unknown) => this.#failed(m, err))
      .finally(() => void (peer.pendingBytes -= size));
  }

  async #join(frame: Frame, proven: string, user: Frame): Promise<HostedPeer> {
    await this.#leaving.get(identityKey(frame)); // its previous connection's drop reaches the router first
    const identity = frameText(frame);
    if (!Buffer.from(identity, 'utf8').equals(frame))
      throw new ProxyPeerRefusedError(frame.toString('latin1'), 'its identity is not UTF-8 text');
    if (!this.#mayHold(identity, proven))
      throw new ProxyPeerRefusedError(identity, `user ${JSON.stringify(proven)} may not hold this identity (a platform service's)`);
    let link: RmqConnection;
    try {
      link = new RmqConnection({ ...this.#o.rmq, identity, user: frameText(user), logger: this.#log });
    } catch (err) {
      throw new ProxyPeerRefusedError(identity, (err as Error).message, { cause: err }); // not a routing key: '*', '#'
    }
    const peer: HostedPeer = { frame, user, link, chain: Promise.resolve(), pendingBytes: 0 };
    link.onMessage((m) => this.#toZmq(peer, m));
    try {
      await link.open();
    } catch (err) {
      await link.close().catch(() => undefined);
      throw new ProxyPeerRefusedError(identity, `its queue could not be taken on RabbitMQ (${(err as Error).message})`, { cause: err });
    }
    this.#peers.set(identityKey(frame), peer);
    try {
      await this.#router.add(frame);
    } catch (err) {
      this.#peers.delete(identityKey(frame));
      await link.close().catch(() => undefined);
      throw err;
    }
    this.#log.info('proxy.peer.joined', { identity, user: frameText(user) });
    return peer;
  }

  async #route(peer: HostedPeer, m: RoutedMessage): Promise<void> {
    if (m.recipient.length === 0) {
      const subsystem = frameText(m.subsystem);
      if (subsystem === 'hello')
        return this.#zmqSend(peer.frame, EMPTY_FRAME, peer.user, m.id, m.subsystem, [WELCOME, VERSION, this.#routerIdentity, peer.frame]);
      if (subsystem === 'pubsub') return (peer.pubsub ??= this.#pubsubOf(peer)).handle(m, peer.user);
      if (subsystem === 'agentstop' && (m.args[0] === undefined || m.args[0].equals(peer.frame))) {
        void this.#leave(peer); // not awaited: it waits for this chain, which holds this message
        return;
      }
    } else {
      const local = this.#peers.get(identityKey(m.recipient));
      if (local) return this.#zmqSend(m.recipient, m.sender, peer.user, m.id, m.subsystem, m.args, m.sender);
    }
    // everything else is the RabbitMQ platform's: its router (recipient '') or an RMQ agent
    await peer.link.send({ peer: m.recipient, user: peer.user, id: m.id, subsystem: m.subsystem, args: m.args });
  }

  #pubsubOf(peer: HostedPeer): PeerPubSub {
    const authorize = this.#o.authorizePublish;
    const user = frameText(peer.user);
    return new PeerPubSub({
      peer: peer.frame,
      user,
      link: this.#o.rmq,
      logger: this.#log,
      // protected topics by the peer's proven user, never by anything it wrote
      ...(authorize ? { authorize: (topic: string) => authorize(topic, user) } : {}),
      onUnauthorized: () => void this.#stats.unauthorized++,
      ...(this.#o.management ? { management: this.#o.management } : {}),
      send: (to, from, user, id, subsystem, args) => void this.#zmqSend(to, from, user, id, subsystem, args),
    });
  }

  /** What arrived in a hosted peer's queue: written on the ROUTER as the broker's mapping read it. */
  #toZmq(peer: HostedPeer, m: VipMessage): void {
    void this.#zmqSend(peer.frame, m.peer, m.user, m.id, m.subsystem, m.args);
  }

  /** A frame list in the proxy inbox (VOLTTRON's send_via_proxy): sender checked, then written on the ROUTER. */
  #fromInbox(m: VipMessage): void {
    const frames = readProxyFrames(m.args);
    if (frames instanceof InvalidPayloadError) {
      this.#stats.undeliverable += 1;
      this.#log.debug('proxy.inbox.invalid', { reason: frames.detail });
      return;
    }
    if (!frames.sender.equals(m.peer)) {
      // the broker proved (or the policy believed) m.peer; the sender frame is the publisher's own word
      this.#stats.spoofed += 1;
      this.#log.warn('proxy.inbox.spoofed', { claimed: frameText(frames.sender), sender: frameText(m.peer) });
      return;
    }
    if (!this.#peers.has(identityKey(frames.recipient))) {
      this.#stats.undeliverable += 1;
      return;
    }
    this.#stats.viaInbox += 1;
    void this.#zmqSend(frames.recipient, m.peer, m.user, frames.id, frames.subsystem, frames.args);
  }

  async #zmqSend(to: Frame, from: Frame, user: Frame, id: Frame, subsystem: Frame, args: readonly Frame[], errorTo?: Frame): Promise<void> {
    const result: DeliveryResult = await this.#o.transport.deliver(to, from, user, id, subsystem, args);
    if (result === 'ok') {
      this.#stats.toZmq += 1;
      return;
    }
    this.#stats.zmqFailures += 1;
    if (errorTo !== undefined) {
      const errnum = result === 'again' ? ERRNO.EAGAIN : ERRNO.EHOSTUNREACH;
      await this.#o.transport.deliver(errorTo, EMPTY_FRAME, EMPTY_FRAME, id, ERROR, errorArgs(errnum, to, subsystem));
    }
  }

  /**
   * The peer is gone (agentstop, its connection lost): forgotten at once, so a new connection of the
   * same identity joins afresh, after the router has heard this one's `peerlist drop`.
   */
  #leave(peer: HostedPeer): Promise<void> {
    const key = identityKey(peer.frame);
    if (this.#peers.get(key) !== peer) return this.#leaving.get(key) ?? Promise.resolve();
    this.#peers.delete(key);
    const gone = (async () => {
      await peer.chain.catch(() => undefined); // what it sent before leaving goes out first
      await this.#router
        .drop(peer.frame)
        .catch((err: unknown) => this.#log.warn('proxy.peer.drop-failed', { identity: frameText(peer.frame) }, err));
      await peer.pubsub?.close().catch(() => undefined);
      await peer.link.close().catch(() => undefined);
      this.#log.info('proxy.peer.left', { identity: frameText(peer.frame) });
    })().finally(() => {
      if (this.#leaving.get(key) === gone) this.#leaving.delete(key);
    });
    this.#leaving.set(key, gone);
    return gone;
  }

  #peerEvent(e: PeerEvent): void {
    if (e.type !== 'peer-gone') return;
    this.#o.platformLinks?.gone(e.peer);
    const peer = this.#peers.get(identityKey(e.peer));
    if (peer) void this.#leave(peer);
  }

  /** A peer that could not join: told with error 13 on the message it sent, nothing else done. */
  #refuse(m: RoutedMessage, user: Frame, err: unknown): void {
    this.#stats.refused += 1;
    this.#log.warn('proxy.peer.refused', { identity: m.sender.toString('latin1') }, err);
    const text = err instanceof Error ? err.message : String(err);
    void this.#o.transport.deliver(
      m.sender,
      EMPTY_FRAME,
      user,
      m.id,
      ERROR,
      errorArgs(ERRNO.EACCES, m.sender, m.subsystem, `Permission denied: ${text}`),
    );
  }

  #failed(m: RoutedMessage, err: unknown): void {
    this.#log.warn('proxy.message.failed', { sender: m.sender.toString('latin1'), subsystem: m.subsystem.toString('latin1') }, err);
    void this.#o.transport.deliver(
      m.sender,
      EMPTY_FRAME,
      EMPTY_FRAME,
      m.id,
      ERROR,
      errorArgs(ERRNO.EHOSTUNREACH, m.recipient, m.subsystem),
    );
  }
}
