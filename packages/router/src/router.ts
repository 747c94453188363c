import {
  EMPTY_FRAME, ERRNO, errorArgs, frameText, identityKey, NO_PLATFORM_LINKS, textFrame,
  type Frame, type PlatformLinks, type RoutedMessage, type RouterExtension, type RouterServices,
} from '@vip/protocol';
import { BaseRouter, type BaseRouterOptions } from './base-router.js';
import { queryReplyArgs, type QueryProperties } from './query-subsystem.js';
import { RmqSubsystems, type MessageBus } from './rmq-subsystems.js';
import type { CountMap } from './tracker.js';

export interface RouterOptions extends BaseRouterOptions {
  /** Services living in the router (pubsub, routing_table...), each serving its own subsystems. */
  readonly extensions?: readonly RouterExtension[];
  /** Shown to extensions; default `vip1`. */
  readonly instanceName?: string;
  /** Values answered by the `query` subsystem. */
  readonly query?: QueryProperties;
  /**
   * The identity of the platform's control service; default `control` (VOLTTRON). Its proven users
   * (those `reservedIdentities` allows to hold it; without an entry there, the user named like the
   * identity, on RabbitMQ `<instance>.<identity>`) may `quit` and stop other agents.
   */
  readonly controlIdentity?: string;
  /** Called when the control service sends `quit`: the platform should shut down. */
  readonly onQuit?: () => void;
  /**
   * This platform's authenticated links to other platforms (`PlatformLinks`), shown to extensions
   * as `RouterServices.isPlatformLink`. Default: none.
   */
  readonly platformLinks?: PlatformLinks;
  /**
   * The bus the router serves (default `zmq`). `rmq` adds the RMQ router's subsystems
   * (docs/protocol.md 7.5, `RmqSubsystems`) and makes the identity default to `router`.
   */
  readonly messageBus?: MessageBus;
}

const ERROR = textFrame('error');

/**
 * The platform router: `BaseRouter` plus the platform subsystems (`query`, `agentstop`, `quit`)
 * and the extensions' subsystems (pubsub and friends).
 */
export class Router extends BaseRouter {
  readonly instanceName: string;
  readonly #extensions: readonly RouterExtension[];
  readonly #bySubsystem = new Map<string, RouterExtension>();
  readonly #query: QueryProperties;
  readonly #control: string;
  readonly #controlKey: string;
  readonly #defaultControlUsers: ReadonlySet<string>;
  readonly #reserved: RouterOptions['reservedIdentities'];
  readonly #links: PlatformLinks;
  readonly #onQuit: (() => void) | undefined;
  readonly #rmq: RmqSubsystems | undefined;

  constructor(options: RouterOptions) {
    const rmq = options.messageBus === 'rmq';
    super(rmq && options.identity === undefined ? { ...options, identity: 'router' } : options);
    this.instanceName = options.instanceName ?? 'vip1';
    this.#extensions = options.extensions ?? [];
    this.#query = options.query ?? {};
    this.#control = options.controlIdentity ?? 'control';
    this.#controlKey = identityKey(textFrame(this.#control));
    this.#defaultControlUsers = new Set([rmq ? `${this.instanceName}.${this.#control}` : this.#control]);
    this.#reserved = options.reservedIdentities;
    this.#links = options.platformLinks ?? NO_PLATFORM_LINKS;
    this.#onQuit = options.onQuit;
    for (const ext of this.#extensions) {
      for (const s of ext.subsystems) this.#bySubsystem.set(s, ext);
    }
    this.#rmq = rmq ? new RmqSubsystems(this) : undefined;
  }

  protected override interceptSubsystem(message: RoutedMessage): boolean {
    return this.#rmq !== undefined && this.#rmq.handle(message);
  }

  protected override announcePeer(op: Frame, peer: Frame): void {
    if (this.#rmq) this.#rmq.announce(op, peer);
    else super.announcePeer(op, peer);
  }

  protected override setup(): void {
    const services: RouterServices = {
      deliver: (to, from, user, id, subsystem, args) => this.deliver(to, from, user, id, subsystem, args),
      dropPeer: (peer) => this.dropPeer(peer),
      count: (counter, n) => this.count(counter, n),
      isPlatformLink: (userId) => this.#links.has(userId),
      instanceName: this.instanceName,
      logger: this.logger,
    };
    for (const ext of this.#extensions) ext.attach(services);
  }

  protected override handleSubsystem(message: RoutedMessage, userId: string): boolean {
    const name = identityKey(message.subsystem);
    switch (name) {
      case 'query':
        this.reply(message, EMPTY_FRAME, message.subsystem, queryReplyArgs(this.#query, message));
        return true;
      case 'agentstop':
        return this.#agentstop(message, userId);
      case 'quit':
        return this.#quit(message, userId);
      default: {
        const ext = this.#bySubsystem.get(name);
        return ext ? ext.handle(message, userId) : false;
      }
    }
  }

  /**
   * `agentstop <identity>`: drop that peer everywhere; no reply (docs/protocol.md 2.5). A peer may stop
   * itself; only the control service (by its proven user) may stop another. VOLTTRON obeys anyone,
   * so any agent could silently cut another off: refused here with error 13 to the sender.
   */
  #agentstop(message: RoutedMessage, userId: string): boolean {
    const peer = message.args[0];
    if (peer === undefined || peer.length === 0) {
      this.count('agentstop without identity');
    } else if (peer.equals(message.sender) || this.#isControl(userId)) {
      this.dropPeer(peer);
    } else {
      this.count('agentstop refused');
      this.warnLimited('router.agentstop.refused', { sender: frameText(message.sender), user: userId, named: frameText(peer) });
      this.#refuse(message, userId, `agentstop of another peer is accepted only from ${this.#control}`);
    }
    return true;
  }

  /**
   * `quit` from the control service (by its proven user) stops the platform; from anyone else it
   * is unknown (error 93, as VOLTTRON, which trusts the identity `control` alone).
   */
  #quit(message: RoutedMessage, userId: string): boolean {
    if (!this.#isControl(userId)) {
      this.count('quit refused');
      this.warnLimited('router.quit.refused', { sender: frameText(message.sender), user: userId });
      return false;
    }
    this.logger.info('router.quit', { sender: frameText(message.sender), user: userId });
    this.#onQuit?.();
    return true;
  }

  /** The proven user is one of the control service's users. */
  #isControl(userId: string): boolean {
    return (this.#reserved?.usersOf(this.#controlKey) ?? this.#defaultControlUsers).has(userId);
  }

  /** Error 13 `Permission denied: <why>` to the sender of a refused router operation. */
  #refuse(message: RoutedMessage, userId: string, why: string): void {
    this.counters.error(ERRNO.EACCES);
    this.reply(message, this.lookupUserId(message.sender, userId), ERROR, errorArgs(ERRNO.EACCES, EMPTY_FRAME, message.subsystem, `Permission denied: ${why}`));
  }

  protected override peerDropped(peer: Frame): void {
    this.#rmq?.forget(peer);
    for (const ext of this.#extensions) {
      try {
        ext.peerDropped?.(peer);
      } catch (err) {
        this.count('extension peerDropped failed');
        this.debugLimited('router.extension.failed', { subsystem: ext.subsystems[0] }, err);
      }
    }
  }

  protected override extensionStats(): Record<string, CountMap> {
    const out: Record<string, CountMap> = {};
    for (const ext of this.#extensions) {
      if (ext.stats) out[ext.subsystems[0] ?? 'extension'] = ext.stats();
    }
    return out;
  }

  /** Close every extension once the transport is closed. */
  protected override async teardown(): Promise<void> {
    for (const ext of this.#extensions) {
      try {
        await ext.close?.();
      } catch (err) {
        this.logger.warn('router.extension.close.failed', { subsystem: ext.subsystems[0] }, err);
      }
    }
  }
}
