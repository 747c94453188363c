import {
  EMPTY_FRAME, ERRNO, errorArgs, frameText, identityKey, silentLogger, textFrame,
  type DeliveryResult, type Frame, type Logger, type PeerEvent, type RoutedMessage, type RouterTransport, type UnroutableReason,
} from '@vip/protocol';
import { BUILTIN_SUBSYSTEMS, type BuiltinContext } from './builtin-subsystems.js';
import { PeerRegistry } from './peer-registry.js';
import { ReservedIdentityGuard, type ReservedIdentities } from './reserved-identities.js';
import { PeerlistOutbox } from './peerlist-outbox.js';
import { RateLimitedLog } from './rate-limited-log.js';
import { RouterCounters, type RouterStats } from './router-counters.js';
import { Tracker, type IssuedMessage, type IssueTopic, type CountMap } from './tracker.js';


export interface BaseRouterOptions {
  /** The bus the router serves (ZeroMQ, RabbitMQ, memory); the router owns it and closes it in `stop()`. */
  readonly transport: RouterTransport;
  /**
   * The router's socket identity, shown to peers in `welcome`; default a fresh uuid4 (as VOLTTRON).
   * A function is read once the transport has started (a ZeroMQ socket gets its id when it binds).
   */
  readonly identity?: Frame | string | (() => Frame | string);
  readonly tracker?: Tracker;
  /**
   * Identities kept for the platform's services and the proven users allowed to hold them
   * (`ReservedIdentities`). Messages from a reserved identity held by another user are dropped
   * (counted `reserved identity`), and messages to one not held by an allowed user are answered
   * with error 113. Default: none.
   */
  readonly reservedIdentities?: ReservedIdentities;
  readonly logger?: Logger;
  /** Clock in ms for rate-limited logging; default `Date.now`. */
  readonly now?: () => number;
}

/** Who made an outgoing message: a forwarded peer message, or the router itself (replies, events). */
type Origin = 'forward' | 'router';

const PEERLIST = textFrame('peerlist');
const ADD = textFrame('add');
const DROP = textFrame('drop');
const ERROR = textFrame('error');

/**
 * The transport-neutral VIP routing core (the seed's `BaseRouter`): `start` binds the transport
 * after the `setup` hook, `route` handles one message, `poll` waits for in-flight deliveries,
 * `stop` closes. Subclasses add subsystems through `handleSubsystem` and observe traffic through
 * `issue`. Frames that are only forwarded are passed on by reference, byte-exact.
 */
export class BaseRouter {
  readonly transport: RouterTransport;
  readonly peers = new PeerRegistry();
  readonly tracker: Tracker;
  protected readonly logger: Logger;
  protected readonly counters = new RouterCounters();
  readonly #debug: RateLimitedLog;
  readonly #ctx: BuiltinContext;
  readonly #identitySource: (() => Frame | string) | undefined;
  #identity: Frame;
  #started?: Promise<void>;
  #stopped?: Promise<void>;
  #closing = false;
  #inflight = 0;
  #idleWaiters: Array<() => void> = [];
  readonly #userFrames = new Map<string, Frame>();
  readonly #reserved: ReservedIdentityGuard | undefined;
  readonly #outbox: PeerlistOutbox;

  constructor(options: BaseRouterOptions) {
    this.transport = options.transport;
    const id = options.identity ?? crypto.randomUUID();
    this.#identitySource = typeof id === 'function' ? id : undefined;
    this.#identity = typeof id === 'function' ? EMPTY_FRAME : asFrame(id);
    this.tracker = options.tracker ?? new Tracker();
    this.#reserved = options.reservedIdentities ? new ReservedIdentityGuard(options.reservedIdentities) : undefined;
    this.logger = options.logger ?? silentLogger;
    this.#debug = new RateLimitedLog(this.logger, options.now ? { now: options.now } : {});
    const self = this;
    this.#ctx = {
      get identity() {
        return self.identity;
      },
      peerList: () => this.peers.list(),
      reply: (m, user, subsystem, args) => this.reply(m, user, subsystem, args),
      count: (name) => this.counters.count(name),
    };
    this.#outbox = new PeerlistOutbox({
      deliver: (to, args) => this.#send(to, EMPTY_FRAME, EMPTY_FRAME, EMPTY_FRAME, PEERLIST, args, 'router'),
      count: (name, n) => this.counters.count(name, n),
    });
  }

  /** The router's own identity (third `welcome` argument). */
  get identity(): Frame {
    return this.#identity;
  }

  /** Runs `setup()`, then starts the transport; resolves when peers can connect. Idempotent. */
  start(): Promise<void> {
    return (this.#started ??= this.#start());
  }

  async #start(): Promise<void> {
    await this.setup();
    await this.transport.start({
      message: (message, userId) => this.#guard(() => this.route(message, userId)),
      probe: (sender) => this.#guard(() => this.#probe(sender)),
      unroutable: (reason, sender) => this.#guard(() => this.unroutable(reason, sender)),
      peerEvent: (event) => this.#guard(() => this.#peerEvent(event)),
    });
    if (this.#identitySource) this.#identity = asFrame(this.#identitySource());
  }

  /** Hook run by `start()` before the transport starts (bind extra services, attach extensions). */
  protected setup(): void | Promise<void> {}

  /**
   * Resolves once every delivery started so far (and the errors they caused) has settled, the
   * peerlist events published so far included.
   */
  poll(): Promise<void> {
    if (this.#outbox.backlog > 0) return this.#outbox.drained().then(() => this.poll());
    if (this.#inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Route one message: register its sender, then forward it or handle it (recipient empty). */
  route(message: RoutedMessage, userId: string): void {
    this.counters.received++;
    if (this.tracker.enabled) this.issue('incoming', { peer: message.sender, user: message.user, subsystem: message.subsystem });
    if (this.#reserved !== undefined && !this.#mayHold(message.sender, userId)) return;
    this.#register(message.sender);
    const user = this.lookupUserId(message.sender, userId);
    if (message.recipient.length > 0) {
      if (this.#reserved !== undefined && !this.#reserved.reachable(identityKey(message.recipient))) {
        this.counters.count('reserved identity unproven');
        this.#sendError(ERRNO.EHOSTUNREACH, message.sender, user, message.id, message.recipient, message.subsystem);
        return;
      }
      this.counters.forwarded++;
      this.#send(message.recipient, message.sender, user, message.id, message.subsystem, message.args, 'forward');
      return;
    }
    this.counters.handled++;
    if (this.interceptSubsystem(message)) return;
    const name = identityKey(message.subsystem);
    const builtin = BUILTIN_SUBSYSTEMS.get(name);
    if (builtin) {
      builtin(this.#ctx, message, user);
      return;
    }
    if (name === 'error') {
      this.counters.count('error to router ignored');
      return;
    }
    let handled: boolean;
    try {
      handled = this.handleSubsystem(message, this.provenUser(message.sender, userId));
    } catch (err) {
      this.counters.count('subsystem handler failed');
      this.#debug.debug('router.subsystem.failed', { subsystem: frameText(message.subsystem) }, err);
      return;
    }
    if (!handled) this.#unknownSubsystem(message);
  }

  /**
   * Hook: handle a router-addressed message before the built-in subsystems (a bus-specific
   * router, e.g. RMQ's peerlist ops). Return true when it is handled.
   */
  protected interceptSubsystem(_message: RoutedMessage): boolean {
    return false;
  }

  /**
   * Handle a router-addressed subsystem the base router does not serve. Return false when it
   * is unknown (the router answers error 93); send replies with `reply()`.
   */
  protected handleSubsystem(_message: RoutedMessage, _userId: string): boolean {
    return false;
  }

  /**
   * The user frame put on forwarded messages and hello/ping replies: the user id the transport
   * authenticated for the sender, or the sender identity when there is none (auth off).
   * VOLTTRON 9 always copies the identity (docs/protocol.md 1.3).
   */
  lookupUserId(sender: Frame, userId: string): Frame {
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

  /** Debug/statistics hook, called only while the tracker is enabled (one boolean check otherwise). */
  protected issue(topic: IssueTopic, message: IssuedMessage, extra?: string): void {
    this.tracker.hit(topic, message, extra);
  }

  /** Send a router-originated reply to the sender of `message`, keeping its message id. */
  reply(message: RoutedMessage, user: Frame, subsystem: Frame, args: readonly Frame[]): void {
    this.#send(message.sender, EMPTY_FRAME, user, message.id, subsystem, args, 'router');
  }

  /**
   * Deliver a router-originated message (`from` empty = the router). An unreachable recipient is
   * dropped; no error message is generated for it.
   */
  deliver(to: Frame, from: Frame, user: Frame, id: Frame, subsystem: Frame, args: readonly Frame[]): Promise<DeliveryResult> {
    return this.#send(to, from, user, id, subsystem, args, 'router');
  }

  /**
   * The user rights are decided on: the user the transport proved for the sender (`userId` of
   * `route`), or its identity where nothing is proven (authentication off, as VOLTTRON 7+).
   */
  protected provenUser(sender: Frame, userId: string): string {
    return userId.length > 0 ? userId : frameText(sender);
  }

  /** Forget a peer: `peerlist drop` to everyone left, then the `peerDropped` hook. No-op when unknown. */
  dropPeer(peer: Frame): void {
    this.#reserved?.forget(identityKey(peer));
    if (!this.peers.remove(peer)) return;
    this.#outbox.leave(peer);
    this.announcePeer(DROP, peer);
    this.peerDropped(peer);
  }

  /**
   * Hook: tell the known peers about a peer event (`peerlist add|drop <peer>`). Sent at low
   * priority through the peerlist outbox (batched, coalesced, bounded: peerlist-outbox.ts), so a
   * connection storm cannot hold up admissions, hellos and normal traffic.
   */
  protected announcePeer(op: Frame, peer: Frame): void {
    this.#outbox.publish(op.equals(ADD), peer);
  }

  /** Hook: a peer left (agentstop, unreachable, disconnect). */
  protected peerDropped(_peer: Frame): void {}

  /** Count a frame set that cannot be routed (transport-reported or found by the router). Never throws. */
  unroutable(reason: UnroutableReason | string, sender: Frame | undefined): void {
    this.counters.drop(reason);
    if (this.tracker.enabled) this.issue('unroutable', { peer: sender }, reason);
    this.#debug.debug('router.dropped', { reason, sender: sender === undefined ? undefined : frameText(sender) });
  }

  /** Warning for per-message events (refused privileges), at most one line per event name per second. */
  protected warnLimited(event: string, fields?: Record<string, string | number | boolean | undefined>, err?: unknown): void {
    this.#debug.warn(event, fields, err);
  }

  /** Debug log for per-message events, at most one line per event name per second. */
  protected debugLimited(event: string, fields?: Record<string, string | number | boolean | undefined>, err?: unknown): void {
    this.#debug.debug(event, fields, err);
  }

  /** Bump a named always-on counter. */
  count(name: string, n = 1): void {
    this.counters.count(name, n);
  }

  /** The always-on counters (drops by reason, errors sent, peers...), a snapshot. */
  stats(): RouterStats {
    const c = this.counters;
    return {
      received: c.received,
      forwarded: c.forwarded,
      handled: c.handled,
      dropped: { ...c.dropped },
      errors: { ...c.errors },
      peers: this.peers.size,
      peerlistBacklog: this.#outbox.backlog,
      counters: { ...c.counters },
      extensions: this.extensionStats(),
    };
  }

  /** Hook: counters of services living in the router, merged into `stats()`. */
  protected extensionStats(): Record<string, CountMap> {
    return {};
  }

  /** Close the transport and wait for in-flight deliveries. Idempotent. */
  stop(): Promise<void> {
    return (this.#stopped ??= this.#stop());
  }

  async #stop(): Promise<void> {
    this.#closing = true;
    this.#outbox.close();
    await this.transport.close();
    await this.poll();
    await this.teardown();
  }

  /** Hook run once by `stop()` after the transport closed (close extensions...). */
  protected teardown(): void | Promise<void> {}

  #probe(sender: Frame): void {
    if (this.tracker.enabled) this.issue('unroutable', { peer: sender }, 'router probe');
    this.#register(sender);
  }

  #peerEvent(event: PeerEvent): void {
    if (event.type === 'peer-gone') return this.dropPeer(event.peer);
    if (this.#reserved !== undefined && !this.#mayHold(event.peer, event.user)) return;
    this.#register(event.peer);
  }

  /** A reserved identity used by a user it is not reserved for: dropped, counted, logged (rate-limited). */
  #mayHold(sender: Frame, userId: string): boolean {
    const user = this.provenUser(sender, userId);
    if ((this.#reserved as ReservedIdentityGuard).admits(identityKey(sender), user)) return true;
    this.counters.drop('reserved identity');
    if (this.tracker.enabled) this.issue('unroutable', { peer: sender }, 'reserved identity');
    this.#debug.warn('router.reserved_identity.refused', { identity: frameText(sender), user });
    return false;
  }

  /** First sight of a peer: everyone already known gets `peerlist add`, then the peer is added. */
  #register(peer: Frame): void {
    if (this.peers.has(peer)) return;
    this.announcePeer(ADD, peer);
    this.peers.add(peer);
    this.#outbox.join(peer);
  }

  #unknownSubsystem(m: RoutedMessage): void {
    this.#sendError(ERRNO.EPROTONOSUPPORT, m.sender, EMPTY_FRAME, m.id, EMPTY_FRAME, m.subsystem);
  }

  #sendError(errnum: number, to: Frame, user: Frame, id: Frame, recipient: Frame, subsystem: Frame): void {
    this.counters.error(errnum);
    if (this.tracker.enabled) this.issue('error', { peer: to, user, subsystem }, String(errnum));
    this.#send(to, EMPTY_FRAME, user, id, ERROR, errorArgs(errnum, recipient, subsystem), 'router');
  }

  #send(to: Frame, from: Frame, user: Frame, id: Frame, subsystem: Frame, args: readonly Frame[], origin: Origin): Promise<DeliveryResult> {
    if (this.tracker.enabled) this.issue('outgoing', { peer: to, user, subsystem });
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
        this.counters.count('delivery failed');
        this.#debug.debug('router.deliver.failed', { to: frameText(to) }, err);
        this.#settle();
        return 'unreachable' as const;
      },
    );
  }

  /**
   * A delivery failed. Unreachable recipients are dropped. A forwarded message earns its sender an
   * error 113/11 (user and id of the failed message); router-made messages and messages whose
   * recipient is their own sender do not (docs/protocol.md 1.8).
   */
  #failed(result: 'unreachable' | 'again', to: Frame, from: Frame, user: Frame, id: Frame, subsystem: Frame, origin: Origin): void {
    if (this.#closing) return;
    if (result === 'unreachable') this.dropPeer(to);
    else this.counters.count('delivery would block');
    if (origin === 'router' || identityKey(from) === identityKey(to)) return;
    this.#sendError(result === 'unreachable' ? ERRNO.EHOSTUNREACH : ERRNO.EAGAIN, from, user, id, to, subsystem);
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
      this.counters.count('internal error');
      this.#debug.debug('router.internal.error', undefined, err);
    }
  }
}

function asFrame(id: Frame | string): Frame {
  return typeof id === 'string' ? textFrame(id) : id;
}
