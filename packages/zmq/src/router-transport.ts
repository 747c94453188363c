import { randomUUID } from 'node:crypto';
import { context as defaultContext, type Context } from 'zeromq';
import {
  Address,
  ClosedError,
  EMPTY_FRAME,
  VIP_SIGNATURE,
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
  type RoutedMessage,
  type RouterTransportHandlers,
  type UnroutableReason,
} from '@vip/protocol';
import { PeerAttribution, type PeerAttributionStats, type ProbeOutcome } from './attribution/peer-attribution.js';
import { NotifyingRouter } from './notify-router.js';
import { RouterSender } from './router-sender.js';
import type { SendBacklogStats } from './send-backlog.js';
import {
  DEFAULT_HIGH_WATER_MARK,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_PEER_QUEUE_BYTES,
  DEFAULT_PEER_QUEUE_MESSAGES,
  DEFAULT_ROUTER_QUEUE_BYTES,
  DEFAULT_SEND_HIGH_WATER_MARK,
  TCP_KEEPALIVE,
  VIP_ZAP_DOMAIN,
  WIRE_FRAME_OVERHEAD,
} from './socket-options.js';
import type { AdmissionSink, PendingAdmission, ZapAdmission } from './zap-contract.js';
import { bindError, zmqErrorCode } from './zmq-errors.js';
import { bindSocketOptions } from './address-options.js';

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
   * Pending TCP connections the kernel queues before the router accepts them (ZMQ_BACKLOG; the
   * kernel caps it at net.core.somaxconn). libzmq's default of 100 overflows when a fleet connects
   * at once, and a dropped SYN is retried only after 1, 3, 7, 15, 31 s. Default 1024.
   */
  readonly acceptBacklog?: number;
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
  /**
   * An admission answered 200 whose connection has not appeared after this long expires: its
   * round gets no user and other admissions wait that long. Default 2000 ms (README "Peer attribution").
   */
  readonly admissionTimeoutMs?: number;
  /** Pinned admissions (auth entry with an `identity`) answered together, at most. Default 64. */
  readonly maxAdmissionRound?: number;
  /** An unpinned admission waits at most this long for unexplained empty frames to be resolved. Default 200 ms. */
  readonly unpinnedWaitMs?: number;
  /** Admissions waiting to be answered, at most (more are answered 300, temporary failure). Default 10,000. */
  readonly maxQueuedAdmissions?: number;
  /** Liveness probes after an unexplained empty frame, in ms after it: all must find the peer. Default [5, 50]. */
  readonly probeDelaysMs?: readonly number[];
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
  /** Connections routed under a user (README "Peer attribution"). */
  readonly connectedPeers: number;
  /** Connections tied to an admission of the round still open (what they send is held). */
  readonly pendingPeers: number;
  /** Connections with no user: what they send is dropped (`unauthenticated`). */
  readonly unattributedPeers: number;
  /** Routing ids whose last `[id, '']` is not explained yet (being probed). */
  readonly suspect: number;
  readonly queuedAdmissions: number;
  /** The longest an admission waited from its 200 to its connect notification, ms (admissionTimeoutMs must stay well above). */
  readonly admissionTieMaxMs: number;
  /** Admission rounds, outcomes, probes, contested connections. */
  readonly attribution: PeerAttributionStats['counters'];
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
const PROBE_ID = textFrame('vip.router.probe');
const PING = textFrame('ping');

/**
 * The VIP router's ZeroMQ side (docs/protocol.md 1.1-1.3): one ROUTER socket bound to every address,
 * a receive loop that decodes each frame set and hands it to the router's handlers, and `deliver`.
 *
 * Peer events and user ids come from `PeerAttribution` (README "Peer attribution"): a ZMQ_ROUTER_NOTIFY
 * connect notification (the first `[id, '']` of a routing id) starts a connection; a later
 * `[id, '']` is never taken for a connect (a peer can send one itself): the routing id is probed
 * with ROUTER_MANDATORY sends until it is proven gone or found alive. Authentication on, the ZAP
 * handler hands admissions to `admit()` and the transport answers them in rounds, each recorded
 * before its 200 goes out; a connection gets the user of the admission it is tied to only when
 * its round closes clean, and a frame set from a connection with no user is dropped
 * (`unauthenticated`). Authentication off, the user id is the sender identity (VOLTTRON 7+).
 * Inproc peers do not pass ZAP, so an authenticating transport must not bind inproc: serve
 * in-process agents with a second transport with authentication off.
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
  #peers: PeerAttribution | undefined;
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

  /** AdmissionSink: the ZAP handler has an admissible request; it is answered in an admission round. */
  admit(pending: PendingAdmission): void {
    const peers = this.#peers;
    if (peers === undefined || this.#state !== 'running') pending.decline('router not running');
    else peers.admit(pending);
  }

  /**
   * The user id a connection is routed with (its admission's user, or its identity when
   * authentication is off); undefined while it has none.
   */
  userFor(identity: Frame | string): string | undefined {
    return this.#peers?.userFor(keyOf(identity));
  }

  /** The capabilities of a connected, admitted peer's auth entry. */
  capabilitiesFor(identity: Frame | string): ZapAdmission['capabilities'] {
    return this.#peers?.capabilitiesFor(keyOf(identity));
  }

  stats(): ZmqRouterStats {
    const a = this.#peers?.stats();
    const sent = this.#sender?.stats();
    return {
      received: this.#received,
      delivered: sent?.delivered ?? 0,
      unreachable: sent?.unreachable ?? 0,
      again: sent?.again ?? 0,
      dropped: { ...this.#dropped },
      connectedPeers: a?.attributed ?? 0,
      pendingPeers: a?.pending ?? 0,
      unattributedPeers: a?.unattributed ?? 0,
      suspect: a?.suspect ?? 0,
      queuedAdmissions: a?.queuedAdmissions ?? 0,
      admissionTieMaxMs: Math.round(a?.tieMaxMs ?? 0),
      attribution: a?.counters ?? {},
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
    // the addresses' own ipv6, domain and server parameters (VOLTTRON's Address.bind), for the one socket
    const asked = bindSocketOptions(this.#options.addresses, this.#options.secretKey !== undefined ? 'CURVE' : 'NULL');
    this.#state = 'starting';
    this.#handlers = handlers;
    this.#routingId = randomUUID();
    const o = this.#options;
    const curve = o.secretKey !== undefined ? { curveServer: true, curveSecretKey: keyToZ85(o.secretKey) } : {};
    const zap = this.#authenticate ? { zapDomain: asked.zapDomain ?? VIP_ZAP_DOMAIN, zapEnforceDomain: true } : {};
    const socket = new NotifyingRouter({
      context: o.context ?? defaultContext,
      routingId: this.#routingId,
      mandatory: true,
      sendTimeout: 0,
      sendHighWaterMark: this.#limits.sendHighWaterMark,
      receiveHighWaterMark: o.receiveHighWaterMark ?? DEFAULT_HIGH_WATER_MARK,
      maxMessageSize: this.#limits.maxMessageBytes + WIRE_FRAME_OVERHEAD,
      backlog: o.acceptBacklog ?? 1024,
      ipv6: asked.ipv6,
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
      unreachable: (to) => this.#peers?.unreachable(to),
    });
    this.#peers = new PeerAttribution({
      authenticate: this.#authenticate,
      ...(o.admissionTimeoutMs !== undefined ? { admissionTimeoutMs: o.admissionTimeoutMs } : {}),
      ...(o.maxAdmissionRound !== undefined ? { maxRoundSize: o.maxAdmissionRound } : {}),
      ...(o.unpinnedWaitMs !== undefined ? { unpinnedWaitMs: o.unpinnedWaitMs } : {}),
      ...(o.maxQueuedAdmissions !== undefined ? { maxQueuedAdmissions: o.maxQueuedAdmissions } : {}),
      ...(o.probeDelaysMs !== undefined ? { probeDelaysMs: o.probeDelaysMs } : {}),
      sendProbe: (id) => this.#probe(id),
      peerEvent: (event) => {
        // libzmq dropped the pipe of a peer that left; what waits in our queue goes too
        if (event.type === 'peer-gone') {
          this.#sender?.forget(identityKey(event.peer));
          o.onBuffersReleased?.();
        }
        handlers.peerEvent?.(event);
      },
      message: (message, userId) => this.#deliverHeld(message, userId),
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
      (this.#peers as PeerAttribution).empty(frames[0] as Buffer);
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
    const user = (this.#peers as PeerAttribution).message(decoded.message);
    if (user !== undefined) handlers.message(decoded.message, user);
  }

  /** A message held while its sender was pending or unexplained, now routed. */
  #deliverHeld(message: RoutedMessage, userId: string): void {
    try {
      (this.#handlers as RouterTransportHandlers).message(message, userId);
    } catch (err) {
      this.#drop('handler error');
      this.#logger.error('router.handler.failed', undefined, err);
    }
  }

  /**
   * A liveness probe: a VIP `ping` from the router (ROUTER_MANDATORY, zero send timeout: it
   * succeeds or fails at once), in order with every other send. EHOSTUNREACH: no connection has
   * this routing id. A VIP peer answers `pong`, which the router ignores.
   */
  #probe(id: Buffer): Promise<ProbeOutcome> {
    const sender = this.#sender;
    if (this.#state !== 'running' || sender === undefined) return Promise.resolve('unknown');
    return sender.probe([id, EMPTY_FRAME, VIP_SIGNATURE, EMPTY_FRAME, PROBE_ID, PING, PING]);
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
