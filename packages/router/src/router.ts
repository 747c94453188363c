import { EMPTY_FRAME, identityKey, type Frame, type RoutedMessage, type RouterExtension, type RouterServices } from '@vip/protocol';
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
  /** The only identity allowed to send `quit`; default `control` (VOLTTRON). */
  readonly controlIdentity?: string;
  /** Called when `control` sends `quit`: the platform should shut down. */
  readonly onQuit?: () => void;
  /**
   * The bus the router serves (default `zmq`). `rmq` adds the RMQ router's subsystems
   * (PROTOCOL.md 7.5, `RmqSubsystems`) and makes the identity default to `router`.
   */
  readonly messageBus?: MessageBus;
}

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
  readonly #onQuit: (() => void) | undefined;
  readonly #rmq: RmqSubsystems | undefined;

  constructor(options: RouterOptions) {
    const rmq = options.messageBus === 'rmq';
    super(rmq && options.identity === undefined ? { ...options, identity: 'router' } : options);
    this.instanceName = options.instanceName ?? 'vip1';
    this.#extensions = options.extensions ?? [];
    this.#query = options.query ?? {};
    this.#control = options.controlIdentity ?? 'control';
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
        return this.#agentstop(message);
      case 'quit':
        return this.#quit(message);
      default: {
        const ext = this.#bySubsystem.get(name);
        return ext ? ext.handle(message, userId) : false;
      }
    }
  }

  /** `agentstop <identity>`: drop that peer everywhere; no reply (PROTOCOL.md 2.5). */
  #agentstop(message: RoutedMessage): boolean {
    const peer = message.args[0];
    if (peer === undefined || peer.length === 0) this.count('agentstop without identity');
    else this.dropPeer(peer);
    return true;
  }

  /** `quit` from `control` stops the platform; from anyone else it is unknown (error 93, as VOLTTRON). */
  #quit(message: RoutedMessage): boolean {
    if (identityKey(message.sender) !== this.#control) {
      this.count('quit refused');
      this.debugLimited('router.quit.refused', { sender: message.sender.toString('utf8') });
      return false;
    }
    this.logger.info('router.quit', { sender: this.#control });
    this.#onQuit?.();
    return true;
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
