import { randomUUID } from 'node:crypto';
import { context as defaultContext, type Context } from 'zeromq';
import {
  Address,
  ClosedError,
  decodeRouterFrames,
  encodeRouterFrames,
  identityKey,
  keyToZ85,
  silentLogger,
  textFrame,
  type DeliveryResult,
  type Frame,
  type Logger,
  type RouterTransport,
  type RouterTransportHandlers,
  type UnroutableReason,
} from '@vip/protocol';
import { NotifiedPeers, NotifyingRouter } from './notify-router.js';
import { RouterSender } from './router-sender.js';
import type { SendBacklogStats } from './send-backlog.js';
import {
  DEFAULT_HIGH_WATER_MARK, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_PEER_QUEUE_BYTES, DEFAULT_PEER_QUEUE_MESSAGES, DEFAULT_ROUTER_QUEUE_BYTES,
  DEFAULT_SEND_HIGH_WATER_MARK, TCP_KEEPALIVE, VIP_ZAP_DOMAIN, WIRE_FRAME_OVERHEAD,
} from './socket-options.js';
import type { AdmissionSink, ZapAdmission } from './zap-contract.js';
import { bindError, zmqErrorCode } from './zmq-errors.js';

export interface ZmqRouterTransportOptions {
  /** Endpoints to bind, in order: `ipc://@/home/run/vip.socket`, `tcp://127.0.0.1:22916`, `tcp://127.0.0.1:*`. */
  readonly addresses: readonly string[];
  /** Platform CURVE secret key in any encoding `decodeKey` accepts; makes every bind a CURVE server. */
  readonly secretKey?: string;
  /**
   * Authenticate peers through ZAP (domain `vip`, enforced: with no ZAP handler bound in the same
   * context every handshake is refused). Default: on when `secretKey` is given. When on, only peers
   * whose admission was paired (`AdmissionSink`) are routed; see `admitted()`.
   */
  readonly authenticate?: boolean;
  /**
   * ZMQ_SNDHWM: messages libzmq holds for one peer before a send to it fails (then they wait in
   * the router's own queue, see `peerQueueBytes`). libzmq holds at most this x `maxMessageBytes`
   * for a peer. Default 512.
   */
  readonly sendHighWaterMark?: number;
  readonly receiveHighWaterMark?: number;
  /**
   * Largest message accepted, all frames together (bytes). A bigger frame is refused by libzmq
   * before it is read (ZMQ_MAXMSGSIZE: the sender's connection is closed); a frame set whose frames
   * add up to more is dropped and counted `oversize message`. Default 4 MiB.
   */
  readonly maxMessageBytes?: number;
  /** Bytes queued for one peer whose pipe is full; beyond it the sender gets error 11. Default 16 MiB. */
  readonly peerQueueBytes?: number;
  /** Messages queued for one peer whose pipe is full. Default 6000. */
  readonly peerQueueMessages?: number;
  /** Bytes queued for all blocked peers together. Default 256 MiB. */
  readonly routerQueueBytes?: number;
  /**
   * Called when message buffers became garbage in bulk: a peer left (its libzmq pipe and queue
   * are dropped) or an oversize message was dropped. They are freed at V8's next collection, which
   * an idle router may not run for a long time: the platform uses this to ask for one.
   */
  readonly onBuffersReleased?: () => void;
  /** How long an admission and a connect notification wait for each other. Default 2000 ms. */
  readonly admissionTimeoutMs?: number;
  /**
   * A peer whose `[id, '']` may have been a router probe (nothing received from it since its
   * connect notification) and that stays silent this long is reported `peer-gone`. Default 5000 ms.
   */
  readonly possiblyGoneGraceMs?: number;
  /** A possibly-gone peer silent this long is forgotten, admission included. Default 1 h. */
  readonly possiblyGoneTtlMs?: number;
  /** At most this many possibly-gone peers are remembered (the oldest is forgotten). Default 10,000. */
  readonly maxPossiblyGone?: number;
  /** zeromq context; the ZAP handler must be bound in the same one. Default: zeromq's global context. */
  readonly context?: Context;
  readonly logger?: Logger;
}

export interface ZmqRouterStats {
  readonly received: number;
  readonly delivered: number;
  readonly unreachable: number;
  readonly again: number;
  /**
   * Frame sets received and not handed over as messages, by reason. The `UnroutableReason` ones
   * (`too few frames`...) were also reported through `handlers.unroutable`, so the router counts
   * them too: do not add the two views (see README "Counting drops").
   */
  readonly dropped: Readonly<Record<string, number>>;
  /** Routing ids connected and not possibly gone. */
  readonly connectedPeers: number;
  /** Routing ids whose last `[id, '']` may have been a disconnect or a probe (admission kept). */
  readonly possiblyGone: number;
  /**
   * Messages waiting in the router for peers whose libzmq pipe is full; `dropped`: queued
   * messages never sent because their peer went away (by reason). Refusals are in `again`.
   */
  readonly queued: SendBacklogStats & { readonly dropped: Readonly<Record<string, number>> };
  /** The limits in force (bytes, messages). */
  readonly limits: ZmqRouterLimits;
}

/** The memory limits a router transport runs with (README "Memory"). */
export interface ZmqRouterLimits {
  readonly maxMessageBytes: number;
  readonly sendHighWaterMark: number;
  readonly peerQueueBytes: number;
  readonly peerQueueMessages: number;
  readonly routerQueueBytes: number;
}

type State = 'new' | 'starting' | 'running' | 'closed';

const resolvedUnreachable: Promise<DeliveryResult> = Promise.resolve('unreachable');

/**
 * The VIP router's ZeroMQ side (PROTOCOL.md 1.1-1.3): one ROUTER socket bound to every address,
 * a receive loop that decodes each frame set and hands it to the router's handlers, and `deliver`.
 *
 * Peer events come from ZMQ_ROUTER_NOTIFY. The first `[id, '']` for an unknown routing id is a
 * connect; a later one is a disconnect or a VIP router probe (same shape): the peer becomes
 * "possibly gone" and keeps its admission. `peer-gone` is emitted at once when it had sent
 * something since its last `[id, '']` (a ZMQ_PROBE_ROUTER probe is the first thing on a
 * connection), else only after `possiblyGoneGraceMs` of silence; any message proves it alive and
 * re-announces it. Authentication on, another `[id, '']` while possibly gone starts over: the old
 * admission is forgotten and the next ZAP admission binds the routing id. README "Peer events".
 *
 * User ids: authentication off, the user id is the sender identity (VOLTTRON 7+). On, it is the
 * user of the ZAP admission paired with the peer's connect notification (`admitted()`); a frame set
 * from a routing id with no admission is dropped (`unauthenticated`), and so are messages from a
 * peer whose admission pins another identity (`identity mismatch`). Inproc peers do not pass ZAP,
 * so an authenticating transport should not bind inproc: serve in-process agents with a second
 * transport with authentication off.
 */
export class ZmqRouterTransport implements RouterTransport, AdmissionSink {
  readonly kind = 'zmq' as const;
  readonly #options: ZmqRouterTransportOptions;
  readonly #logger: Logger;
  readonly #authenticate: boolean;
  readonly #limits: ZmqRouterLimits;
  readonly #dropped: Record<string, number> = {};
  #state: State = 'new';
  #started: Promise<void> | undefined;
  #closed: Promise<void> | undefined;
  #socket: NotifyingRouter | undefined;
  #sender: RouterSender | undefined;
  #peers: NotifiedPeers | undefined;
  #handlers: RouterTransportHandlers | undefined;
  #loop: Promise<void> | undefined;
  #routingId = '';
  #endpoints: string[] = [];
  #received = 0;

  constructor(options: ZmqRouterTransportOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#authenticate = options.authenticate ?? options.secretKey !== undefined;
    const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    const peerQueueBytes = options.peerQueueBytes ?? DEFAULT_PEER_QUEUE_BYTES;
    this.#limits = {
      maxMessageBytes,
      sendHighWaterMark: options.sendHighWaterMark ?? DEFAULT_SEND_HIGH_WATER_MARK,
      peerQueueBytes,
      peerQueueMessages: options.peerQueueMessages ?? DEFAULT_PEER_QUEUE_MESSAGES,
      routerQueueBytes: options.routerQueueBytes ?? DEFAULT_ROUTER_QUEUE_BYTES,
    };
  }

  /** The router socket's routing id (a fresh uuid per start); the third `welcome` argument of hello. */
  get routerIdentity(): string {
    return this.#routingId;
  }

  /** The endpoints actually bound (port 0 / `*` resolved), in bind order. */
  get endpoints(): readonly string[] {
    return this.#endpoints;
  }

  get authenticating(): boolean {
    return this.#authenticate;
  }

  start(handlers: RouterTransportHandlers): Promise<void> {
    if (this.#state === 'closed') return Promise.reject(new ClosedError('zmq router transport'));
    return (this.#started ??= this.#bind(handlers));
  }

  /**
   * Send to a peer. Its pipe full (EAGAIN), the message waits in the router's queue for it, which
   * later messages for that peer join until it drains; `'again'` only when that queue is full.
   */
  deliver(to: Frame, from: Frame, user: Frame, id: Frame, subsystem: Frame, args: readonly Frame[]): Promise<DeliveryResult> {
    const sender = this.#sender;
    if (this.#state !== 'running' || sender === undefined) return resolvedUnreachable;
    return sender.deliver(encodeRouterFrames(to, from, user, id, subsystem, args));
  }

  /** AdmissionSink: the ZAP handler admitted a peer; pair it with that peer's connect notification. */
  admitted(admission: ZapAdmission): Promise<void> {
    return this.#peers?.admitted(admission) ?? Promise.resolve();
  }

  /**
   * The user id of a connected peer (its admission's user, or its identity when authentication is
   * off), possibly-gone peers included.
   */
  userFor(identity: Frame | string): string | undefined {
    return this.#peers?.userFor(keyOf(identity));
  }

  /** The capabilities of a connected, admitted peer's auth entry. */
  capabilitiesFor(identity: Frame | string): ZapAdmission['capabilities'] {
    return this.#peers?.capabilitiesFor(keyOf(identity));
  }

  stats(): ZmqRouterStats {
    const sent = this.#sender?.stats();
    return {
      received: this.#received,
      delivered: sent?.delivered ?? 0,
      unreachable: sent?.unreachable ?? 0,
      again: sent?.again ?? 0,
      dropped: { ...this.#dropped },
      connectedPeers: this.#peers?.connected ?? 0,
      possiblyGone: this.#peers?.possiblyGone ?? 0,
      queued: sent?.queued ?? { peers: 0, messages: 0, bytes: 0, peakBytes: 0, sent: 0, retries: 0, dropped: {} },
      limits: this.#limits,
    };
  }

  close(): Promise<void> {
    return (this.#closed ??= this.#shutdown());
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #bind(handlers: RouterTransportHandlers): Promise<void> {
    this.#state = 'starting';
    this.#handlers = handlers;
    this.#routingId = randomUUID();
    const o = this.#options;
    const curve = o.secretKey !== undefined ? { curveServer: true, curveSecretKey: keyToZ85(o.secretKey) } : {};
    const zap = this.#authenticate ? { zapDomain: VIP_ZAP_DOMAIN, zapEnforceDomain: true } : {};
    const socket = new NotifyingRouter({
      context: o.context ?? defaultContext,
      routingId: this.#routingId,
      mandatory: true,
      sendTimeout: 0,
      sendHighWaterMark: this.#limits.sendHighWaterMark,
      receiveHighWaterMark: o.receiveHighWaterMark ?? DEFAULT_HIGH_WATER_MARK,
      maxMessageSize: this.#limits.maxMessageBytes + WIRE_FRAME_OVERHEAD,
      ...TCP_KEEPALIVE,
      ...curve,
      ...zap,
    });
    this.#socket = socket;
    this.#sender = new RouterSender({
      socket,
      limits: this.#limits,
      logger: this.#logger,
      isClosing: () => this.#state === 'closed',
      countDrop: (reason) => this.#drop(reason),
      released: () => o.onBuffersReleased?.(),
    });
    this.#peers = new NotifiedPeers({
      authenticate: this.#authenticate,
      admissionTimeoutMs: o.admissionTimeoutMs ?? 2000,
      possiblyGoneGraceMs: o.possiblyGoneGraceMs ?? 5000,
      possiblyGoneTtlMs: o.possiblyGoneTtlMs ?? 3_600_000,
      maxPossiblyGone: o.maxPossiblyGone ?? 10_000,
      peerEvent: (event) => {
        // libzmq dropped the pipe of a peer that left; what waits in our queue goes too
        if (event.type === 'peer-gone') {
          this.#sender?.forget(identityKey(event.peer));
          o.onBuffersReleased?.();
        }
        handlers.peerEvent?.(event);
      },
      message: (message, userId) => handlers.message(message, userId),
      drop: (reason) => this.#drop(reason),
      logger: this.#logger,
    });
    for (const address of o.addresses) {
      if (this.#isClosed()) throw new ClosedError('zmq router transport');
      try {
        await socket.bind(Address.parse(address).base);
      } catch (err) {
        const error = bindError(address, err);
        this.#logger.error('router.bind.failed', { address }, error);
        await this.close();
        throw error;
      }
      const bound = socket.lastEndpoint ?? address;
      this.#endpoints.push(bound);
      this.#logger.info('router.bound', { address: bound, curve: o.secretKey !== undefined, authenticate: this.#authenticate });
    }
    if (this.#isClosed()) throw new ClosedError('zmq router transport');
    this.#state = 'running';
    this.#loop = this.#receiveLoop(socket);
  }

  async #receiveLoop(socket: NotifyingRouter): Promise<void> {
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await socket.receive();
      } catch (err) {
        if (this.#state !== 'closed') this.#logger.error('router.receive.failed', { code: zmqErrorCode(err) }, err);
        return;
      }
      this.#received++;
      try {
        this.#onFrames(frames);
      } catch (err) {
        this.#drop('handler error');
        this.#logger.error('router.handler.failed', undefined, err);
      }
    }
  }

  #onFrames(frames: Buffer[]): void {
    const handlers = this.#handlers as RouterTransportHandlers;
    if (frames.length === 2 && (frames[1] as Buffer).length === 0 && (frames[0] as Buffer).length > 0) {
      (this.#peers as NotifiedPeers).notified(frames[0] as Buffer);
      return;
    }
    const decoded = decodeRouterFrames(frames, this.#limits.maxMessageBytes);
    if (decoded.kind !== 'message') {
      const reason: UnroutableReason = decoded.kind === 'probe' ? 'router probe' : decoded.reason;
      this.#drop(reason);
      handlers.unroutable?.(reason, decoded.sender);
      if (reason === 'oversize message') this.#options.onBuffersReleased?.();
      return;
    }
    const user = (this.#peers as NotifiedPeers).userOf(decoded.message);
    if (user !== undefined) handlers.message(decoded.message, user);
  }

  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  #drop(reason: string): void {
    this.#dropped[reason] = (this.#dropped[reason] ?? 0) + 1;
  }

  async #shutdown(): Promise<void> {
    this.#state = 'closed';
    this.#peers?.close();
    this.#sender?.close();
    this.#socket?.close();
    await this.#loop;
    this.#logger.info('router.closed', { received: this.#received, delivered: this.#sender?.stats().delivered ?? 0 });
  }
}

function keyOf(identity: Frame | string): string {
  return identityKey(typeof identity === 'string' ? textFrame(identity) : identity);
}
