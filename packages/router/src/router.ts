import {
  EMPTY_FRAME,
  ERRNO,
  errorArgs,
  errnoMessage,
  frameText,
  identityKey,
  NO_PLATFORM_LINKS,
  silentLogger,
  textFrame,
  type DeliveryResult,
  type Frame,
  type Logger,
  type PeerEvent,
  type PlatformLinks,
  type RoutedMessage,
  type RouterExtension,
  type RouterServices,
  type RouterTransport,
  type UnroutableReason,
} from '@vip/protocol';
import { ExtensionRegistry, extensionName } from './extension-registry.js';
import { PeerRegistry } from './peer-registry.js';
import { RateLimitedLog } from './rate-limited-log.js';
import { ReservedIdentityGuard, type ReservedIdentities } from './reserved-identities.js';
import { RouterCounters, type RouterStats } from './router-counters.js';
import { HelloExtension } from './subsystems/hello.js';
import { PeerControlExtension } from './subsystems/peer-control.js';
import { PeerlistExtension } from './subsystems/peerlist.js';
import { PingExtension } from './subsystems/ping.js';
import { QueryExtension, type QueryProperties, type QueryReplyLayout } from './subsystems/query.js';
import { RouterErrorExtension } from './subsystems/router-error.js';
import { Tracker, type CountMap, type IssuedMessage, type IssueTopic } from './tracker.js';

export interface RouterOptions {
  /** The bus the router serves (ZeroMQ, RabbitMQ, memory); the router owns it and closes it in `stop()`. */
  readonly transport: RouterTransport;
  /**
   * The router's socket identity, shown to peers in `welcome`; default a fresh uuid4 (as VOLTTRON;
   * the RabbitMQ router's is `router`). A function is read once the transport has started (a
   * ZeroMQ socket gets its id when it binds).
   */
  readonly identity?: Frame | string | (() => Frame | string);
  /**
   * Subsystems served besides the router's own (pubsub, the RabbitMQ peerlist operations,
   * routing_table...), registered after them in this order: one that serves a subsystem already
   * served takes it over (`RouterExtension.subsystems`).
   */
  readonly extensions?: readonly RouterExtension[];
  /** Shown to extensions; default `vip1`. */
  readonly instanceName?: string;
  /** Values answered by the `query` subsystem. */
  readonly query?: QueryProperties;
  /** How `query` answers are laid out (default ZeroMQ's; RabbitMQ: `rmqQueryReply`, from `rmqRouterOptions`). */
  readonly queryReply?: QueryReplyLayout;
  /**
   * The identity of the platform's control service; default `control` (VOLTTRON). Its proven users
   * (those `reservedIdentities` allows to hold it; without an entry there, `controlUsers`) may
   * `quit` and stop other agents.
   */
  readonly controlIdentity?: string;
  /** Control's users when `reservedIdentities` has no entry for it; default the user named like the identity. */
  readonly controlUsers?: readonly string[];
  /** Called when the control service sends `quit`: the platform should shut down. */
  readonly onQuit?: () => void;
  /**
   * Identities kept for the platform's services and the proven users allowed to hold them
   * (`ReservedIdentities`). Messages from a reserved identity held by another user are dropped
   * (counted `reserved identity`), and messages to one not held by an allowed user are answered
   * with error 113. Default: none.
   */
  readonly reservedIdentities?: ReservedIdentities;
  /**
   * This platform's authenticated links to other platforms (`PlatformLinks`), shown to extensions
   * as `RouterServices.isPlatformLink`. Default: none.
   */
  readonly platformLinks?: PlatformLinks;
  readonly tracker?: Tracker;
  readonly logger?: Logger;
  /** Clock in ms for rate-limited logging; default `Date.now`. */
  readonly now?: () => number;
}

/** Who made an outgoing message: a forwarded peer message, or the router itself (replies, events). */
type Origin = 'forward' | 'router';

const ERROR = textFrame('error');

/**
 * The VIP router over any RouterTransport: registers each sender, forwards peer-to-peer messages
 * (frames passed on by reference, byte-exact), answers errors 113/11/93, and hands every
 * router-addressed message to the extension registered for its subsystem (one dispatch map). Its
 * own subsystems are extensions too (hello, ping, peerlist, query, agentstop/quit, error),
 * registered first; `options.extensions` come after and may take a subsystem over.
 * `start` binds the transport, `route` handles one message, `poll` waits for what is in flight,
 * `stop` closes.
 */
export class Router {
  readonly transport: RouterTransport;
  readonly peers = new PeerRegistry();
  readonly tracker: Tracker;
  readonly instanceName: string;
  readonly #logger: Logger;
  readonly #counters = new RouterCounters();
  readonly #debug: RateLimitedLog;
  readonly #registry = new ExtensionRegistry();
  readonly #services: RouterServices;
  readonly #identitySource: (() => Frame | string) | undefined;
  readonly #requiresProof: boolean;
  readonly #reserved: ReservedIdentityGuard | undefined;
  readonly #userFrames = new Map<string, Frame>();
  readonly #links: PlatformLinks;
  #identity: Frame;
  #started?: Promise<void>;
  #stopped?: Promise<void>;
  #closing = false;
  #inflight = 0;
  #idleWaiters: Array<() => void> = [];
  /** Router-addressed messages waiting behind an extension's `holdUntil` (and the holds themselves). */
  #held = 0;
  #heldChain: Promise<void> = Promise.resolve();

  constructor(options: RouterOptions) {
    this.transport = options.transport;
    const id = options.identity ?? crypto.randomUUID();
    this.#identitySource = typeof id === 'function' ? id : undefined;
    this.#identity = typeof id === 'function' ? EMPTY_FRAME : asFrame(id);
    this.#requiresProof = options.transport.requiresProof === true;
    this.tracker = options.tracker ?? new Tracker();
    this.instanceName = options.instanceName ?? 'vip1';
    this.#reserved = options.reservedIdentities ? new ReservedIdentityGuard(options.reservedIdentities) : undefined;
    this.#logger = options.logger ?? silentLogger;
    this.#debug = new RateLimitedLog(this.#logger, options.now ? { now: options.now } : {});
    this.#links = options.platformLinks ?? NO_PLATFORM_LINKS;
    this.#services = this.#makeServices(this.#links);
    const own: RouterExtension[] = [
      new HelloExtension(),
      new PingExtension(),
      new PeerlistExtension(),
      new QueryExtension(options.query, options.queryReply),
      new PeerControlExtension({
        ...(options.controlIdentity !== undefined ? { controlIdentity: options.controlIdentity } : {}),
        ...(options.controlUsers !== undefined ? { controlUsers: options.controlUsers } : {}),
        ...(options.reservedIdentities ? { reserved: options.reservedIdentities } : {}),
        ...(options.onQuit ? { onQuit: options.onQuit } : {}),
        ...(options.now ? { now: options.now } : {}),
      }),
      new RouterErrorExtension(),
    ];
    for (const ext of [...own, ...(options.extensions ?? [])]) this.#registry.register(ext);
  }

  /** The router's own identity (third `welcome` argument). */
  get identity(): Frame {
    return this.#identity;
  }

  /** The extensions in force, in registration order (the router's own first). */
  get extensions(): readonly RouterExtension[] {
    return this.#registry.all;
  }

  /** Attaches every extension, then starts the transport; resolves when peers can connect. Idempotent. */
  start(): Promise<void> {
    return (this.#started ??= this.#start());
  }

  async #start(): Promise<void> {
    for (const ext of this.#registry.all) ext.attach(this.#services);
    await this.transport.start({
      message: (message, userId) => this.#guard(() => this.route(message, userId)),
      probe: (sender) => this.#guard(() => this.#probe(sender)),
      unroutable: (reason, sender) => this.#guard(() => this.unroutable(reason, sender)),
      peerEvent: (event) => this.#guard(() => this.#peerEvent(event)),
    });
    if (this.#identitySource) this.#identity = asFrame(this.#identitySource());
  }

  /**
   * Resolves once every delivery started so far (and the errors they caused) has settled, what
   * extensions queued (peerlist events) and router-addressed messages held behind a check included.
   */
  poll(): Promise<void> {
    if (this.#held > 0) return this.#heldChain.then(() => this.poll());
    for (const ext of this.#registry.all) {
      const pending = ext.settled?.();
      if (pending !== undefined) return pending.then(() => this.poll());
    }
    return this.#deliveriesSettled();
  }

  /** Route one message: register its sender, then forward it or hand it to its subsystem (recipient empty). */
  route(message: RoutedMessage, userId: string): void {
    this.#counters.received++;
    if (this.tracker.enabled) this.#issue('incoming', { peer: message.sender, user: message.user, subsystem: message.subsystem });
    if (this.#reserved !== undefined && !this.#mayHold(message.sender, userId)) return;
    // A remote platform's link is no agent: never in the peer list, never told of peers (docs/protocol.md 6.2).
    if (userId.length === 0 || !this.#links.has(userId)) this.#register(message.sender);
    const user = this.#userFrame(message.sender, userId);
    if (message.recipient.length > 0) {
      if (this.#reserved !== undefined && !this.#reserved.reachable(identityKey(message.recipient))) {
        this.#counters.count('reserved identity unproven');
        this.#sendError(ERRNO.EHOSTUNREACH, message.sender, user, message.id, message.recipient, message.subsystem);
        return;
      }
      this.#counters.forwarded++;
      this.#send(message.recipient, message.sender, user, message.id, message.subsystem, message.args, 'forward');
      return;
    }
    this.#counters.handled++;
    if (this.#held > 0) {
      this.#held++;
      this.#heldChain = this.#heldChain.then(() => {
        this.#held--;
        this.#guard(() => this.#dispatch(message, userId, user));
      });
      return;
    }
    this.#dispatch(message, userId, user);
  }

  /**
   * Deliver a router-originated message (`from` empty = the router). An unreachable recipient is
   * dropped; no error message is generated for it.
   */
  deliver(to: Frame, from: Frame, user: Frame, id: Frame, subsystem: Frame, args: readonly Frame[]): Promise<DeliveryResult> {
    return this.#send(to, from, user, id, subsystem, args, 'router');
  }

  /** Forget a peer: every extension's `peerDropped` (peerlist drop to everyone left). No-op when unknown. */
  dropPeer(peer: Frame): void {
    this.#reserved?.forget(identityKey(peer));
    if (this.peers.remove(peer)) this.#tell('peerDropped', peer);
  }

  /** Count a frame set that cannot be routed (transport-reported or found by the router). Never throws. */
  unroutable(reason: UnroutableReason | string, sender: Frame | undefined): void {
    this.#counters.drop(reason);
    if (this.tracker.enabled) this.#issue('unroutable', { peer: sender }, reason);
    this.#debug.debug('router.dropped', { reason, sender: sender === undefined ? undefined : frameText(sender) });
  }

  /** Bump a named always-on counter. */
  count(name: string, n = 1): void {
    this.#counters.count(name, n);
  }

  /** The always-on counters (drops by reason, errors sent, peers...), a snapshot. */
  stats(): RouterStats {
    const c = this.#counters;
    const extensions: Record<string, CountMap> = {};
    let peerlistBacklog = 0;
    for (const ext of this.#registry.all) {
      if (ext.stats) extensions[extensionName(ext)] = ext.stats();
      if (ext instanceof PeerlistExtension) peerlistBacklog += ext.backlog;
    }
    return {
      received: c.received,
      forwarded: c.forwarded,
      handled: c.handled,
      dropped: { ...c.dropped },
      errors: { ...c.errors },
      peers: this.peers.size,
      peerlistBacklog,
      counters: { ...c.counters },
      extensions,
    };
  }

  /** Close the transport, wait for in-flight deliveries, then close every extension. Idempotent. */
  stop(): Promise<void> {
    return (this.#stopped ??= this.#stop());
  }

  async #stop(): Promise<void> {
    this.#closing = true;
    await this.transport.close();
    await this.#deliveriesSettled();
    for (const ext of this.#registry.all) {
      try {
        await ext.close?.();
      } catch (err) {
        this.#logger.warn('router.extension.close.failed', { extension: extensionName(ext) }, err);
      }
    }
  }

  /** What extensions get: the router's services, bound to this router. */
  #makeServices(links: PlatformLinks): RouterServices {
    const self = this;
    return {
      deliver: (to, from, user, id, subsystem, args) => this.deliver(to, from, user, id, subsystem, args),
      replyError: (m, user, errnum, text) => this.#replyError(m, user, errnum, text),
      dropPeer: (peer) => this.dropPeer(peer),
      addPeer: (peer) => this.#register(peer),
      peers: () => this.peers.list(),
      hasPeer: (peer) => this.peers.has(peer),
      holdUntil: (until) => this.#holdUntil(until),
      count: (counter, n) => this.count(counter, n),
      isPlatformLink: (userId) => links.has(userId),
      get identity() {
        return self.#identity;
      },
      instanceName: this.instanceName,
      logger: this.#logger,
    };
  }

  /** Hand a router-addressed message to the extension serving its subsystem; none or a refusal: error 93. */
  #dispatch(message: RoutedMessage, userId: string, user: Frame): void {
    const ext = this.#registry.get(identityKey(message.subsystem));
    if (ext === undefined) return this.#unknownSubsystem(message);
    let handled: boolean;
    try {
      handled = ext.handle(message, this.#provenUser(message.sender, userId), user);
    } catch (err) {
      this.#counters.count('subsystem handler failed');
      this.#debug.debug('router.subsystem.failed', { subsystem: frameText(message.subsystem) }, err);
      return;
    }
    if (!handled) this.#unknownSubsystem(message);
  }

  #holdUntil(until: Promise<unknown>): void {
    this.#held++;
    this.#heldChain = Promise.all([this.#heldChain, until.catch(() => undefined)]).then(() => {
      this.#held--;
    });
  }

  /**
   * The user rights are decided on: the user the transport proved for the sender; where it proved
   * none, nobody when the bus required a proof (`RouterTransport.requiresProof`), else the
   * sender's identity (authentication off, as VOLTTRON 7+).
   */
  #provenUser(sender: Frame, userId: string): string {
    if (userId.length > 0) return userId;
    return this.#requiresProof ? '' : frameText(sender);
  }

  /**
   * The user frame put on forwarded messages and hello/ping replies: the user id the transport
   * authenticated for the sender, or the sender identity when there is none (auth off).
   * VOLTTRON 9 always copies the identity (docs/protocol.md 1.3).
   */
  #userFrame(sender: Frame, userId: string): Frame {
    if (userId.length === 0) return sender;
    let frame = this.#userFrames.get(userId);
    if (frame === undefined) {
      // A few distinct users per platform: keep their frames instead of encoding one per message.
      if (this.#userFrames.size >= 4096) this.#userFrames.clear();
      frame = textFrame(userId);
      this.#userFrames.set(userId, frame);
    }
    return frame;
  }

  /** Debug/statistics, called only while the tracker is enabled (one boolean check otherwise). */
  #issue(topic: IssueTopic, message: IssuedMessage, extra?: string): void {
    this.tracker.hit(topic, message, extra);
  }

  #probe(sender: Frame): void {
    if (this.tracker.enabled) this.#issue('unroutable', { peer: sender }, 'router probe');
    this.#register(sender);
  }

  #peerEvent(event: PeerEvent): void {
    if (event.type === 'peer-gone') return this.dropPeer(event.peer);
    if (this.#reserved !== undefined && !this.#mayHold(event.peer, event.user)) return;
    if (event.user !== undefined && event.user.length > 0 && this.#links.has(event.user)) return;
    this.#register(event.peer);
  }

  /** A reserved identity used by a user it is not reserved for: dropped, counted, logged (rate-limited). */
  #mayHold(sender: Frame, userId: string): boolean {
    const user = this.#provenUser(sender, userId);
    if ((this.#reserved as ReservedIdentityGuard).admits(identityKey(sender), user)) return true;
    this.#counters.drop('reserved identity');
    if (this.tracker.enabled) this.#issue('unroutable', { peer: sender }, 'reserved identity');
    this.#debug.warn('router.reserved_identity.refused', { identity: frameText(sender), user });
    return false;
  }

  /** First sight of a peer: registered, then every extension's `peerAdded` (peerlist add to the others). */
  #register(peer: Frame): void {
    if (this.peers.has(peer)) return;
    this.peers.add(peer);
    this.#tell('peerAdded', peer);
  }

  /** Run a peer hook of every extension; one that throws is counted and the others still run. */
  #tell(hook: 'peerAdded' | 'peerDropped', peer: Frame): void {
    for (const ext of this.#registry.all) {
      const fn = ext[hook];
      if (fn === undefined) continue;
      try {
        fn.call(ext, peer);
      } catch (err) {
        this.#counters.count(`extension ${hook} failed`);
        this.#debug.debug('router.extension.failed', { extension: extensionName(ext), hook }, err);
      }
    }
  }

  #unknownSubsystem(m: RoutedMessage): void {
    this.#sendError(ERRNO.EPROTONOSUPPORT, m.sender, EMPTY_FRAME, m.id, EMPTY_FRAME, m.subsystem);
  }

  /** An extension's error answer: `[errnum, text, '', subsystem]` to the sender. */
  #replyError(m: RoutedMessage, user: Frame, errnum: number, text: string = errnoMessage(errnum)): void {
    this.#counters.error(errnum);
    this.#send(m.sender, EMPTY_FRAME, user, m.id, ERROR, errorArgs(errnum, EMPTY_FRAME, m.subsystem, text), 'router');
  }

  #sendError(errnum: number, to: Frame, user: Frame, id: Frame, recipient: Frame, subsystem: Frame): void {
    this.#counters.error(errnum);
    if (this.tracker.enabled) this.#issue('error', { peer: to, user, subsystem }, String(errnum));
    this.#send(to, EMPTY_FRAME, user, id, ERROR, errorArgs(errnum, recipient, subsystem), 'router');
  }

  #send(to: Frame, from: Frame, user: Frame, id: Frame, subsystem: Frame, args: readonly Frame[], origin: Origin): Promise<DeliveryResult> {
    if (this.tracker.enabled) this.#issue('outgoing', { peer: to, user, subsystem });
    this.#inflight++;
    let pending: Promise<DeliveryResult>;
    try {
      pending = this.transport.deliver(to, from, user, id, subsystem, args);
    } catch (err) {
      pending = Promise.reject(err);
    }
    return pending.then(
      (result) => {
        if (result !== 'ok') this.#guard(() => this.#failed(result, to, from, user, id, subsystem, origin));
        this.#settle();
        return result;
      },
      (err: unknown) => {
        this.#counters.count('delivery failed');
        this.#debug.debug('router.deliver.failed', { to: frameText(to) }, err);
        this.#settle();
        return 'unreachable' as const;
      },
    );
  }

  /**
   * A delivery failed. Unreachable recipients are dropped (before the delivery's promise resolves:
   * an extension that sees `unreachable` finds the drop done). A forwarded message earns its sender
   * an error 113/11 (user and id of the failed message); router-made messages and messages whose
   * recipient is their own sender do not (docs/protocol.md 1.8).
   */
  #failed(result: 'unreachable' | 'again', to: Frame, from: Frame, user: Frame, id: Frame, subsystem: Frame, origin: Origin): void {
    if (this.#closing) return;
    if (result === 'unreachable') this.dropPeer(to);
    else this.#counters.count('delivery would block');
    if (origin === 'router' || identityKey(from) === identityKey(to)) return;
    this.#sendError(result === 'unreachable' ? ERRNO.EHOSTUNREACH : ERRNO.EAGAIN, from, user, id, to, subsystem);
  }

  #deliveriesSettled(): Promise<void> {
    if (this.#inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #settle(): void {
    if (--this.#inflight > 0 || this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Nothing a peer sends may stop the router: an internal failure is counted and logged. */
  #guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#counters.count('internal error');
      this.#debug.debug('router.internal.error', undefined, err);
    }
  }
}

function asFrame(id: Frame | string): Frame {
  return typeof id === 'string' ? textFrame(id) : id;
}
