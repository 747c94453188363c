import type { Frame } from './frames.js';
import type { RoutedMessage } from './envelope.js';
import type { DeliveryResult } from './transport-contract.js';
import type { Logger } from './logger.js';

/**
 * What the router offers the extensions registered in it. Every subsystem the router answers is an
 * extension (hello, ping, peerlist, query, agentstop/quit, error, pubsub, the RabbitMQ peerlist
 * operations, later routing_table and external_rpc): each sees decoded messages and these services,
 * never `@vip/router` itself. The router owns peers and the transport.
 */
export interface RouterServices {
  /**
   * Deliver one message (`from` empty = the router). Never throws for peer problems. When the result
   * is `unreachable` the router has already dropped the peer (peerlist drop, every extension's
   * `peerDropped`, this one's included) if it knew it: there is nothing more to do for that peer.
   */
  deliver(to: Frame, from: Frame, user: Frame, id: Frame, subsystem: Frame, args: readonly Frame[]): Promise<DeliveryResult>;
  /**
   * Answer the sender of `message` with VIP error `errnum` (`[errnum, text, '', subsystem]`,
   * docs/protocol.md 1.8), user frame `user`; counted in the router's errors by errno.
   */
  replyError(message: RoutedMessage, user: Frame, errnum: number, text?: string): void;
  /**
   * The peer is gone (found out otherwise than by a delivery): drop it everywhere (peerlist drop,
   * every extension's `peerDropped`). A peer the router does not know is left alone.
   */
  dropPeer(peer: Frame): void;
  /**
   * Make a peer known that reached the router some other way (a proxy's `peerlist add`): every
   * extension's `peerAdded` runs. No-op when the peer is known.
   */
  addPeer(peer: Frame): void;
  /** Every known peer, in the order they joined. */
  peers(): Frame[];
  hasPeer(peer: Frame): boolean;
  /**
   * Keep the router-addressed messages that arrive from now on until `until` settles, then handle
   * them in arrival order: an extension whose answer waits on I/O (a permission check before a
   * welcome) keeps what the sender asks next behind that answer. Forwarded messages never wait.
   */
  holdUntil(until: Promise<unknown>): void;
  /** Bump a named counter shown in router statistics (drops, rejections...). */
  count(counter: string, n?: number): void;
  /**
   * True when `userId`, the user the transport proved for a message (the `userId` of `handle`),
   * is an authenticated link to another platform. Platform-level operations (pubsub
   * `external_publish`/`external_list`, and the link side of `routing_table`/`external_rpc`) are
   * accepted only from such users; a local agent is never one, whatever frames it writes.
   */
  isPlatformLink(userId: string): boolean;
  /** The router's own identity (third `welcome` argument); known once the transport has started. */
  readonly identity: Frame;
  readonly instanceName: string;
  readonly logger: Logger;
}

export interface RouterExtension {
  /**
   * Subsystems served when a message is addressed to the router (empty recipient). An extension
   * registered for a subsystem takes it over from the one registered before (the router's own
   * included); an extension left serving none of its subsystems is removed, hooks and all.
   * An extension may serve none: it then only sees the peer hooks.
   */
  readonly subsystems: readonly string[];
  /** Its key in router statistics and logs; default its first subsystem. */
  readonly name?: string;
  /** Called once before the router routes its first message. */
  attach(services: RouterServices): void;
  /**
   * Handle one router-addressed message. Return false when the subsystem/op is unknown to it (the
   * router answers error 93). `userId` is the sender's user as the transport proved it (its ZAP
   * admission, its broker user), its identity where the bus proves nothing (authentication off),
   * or empty where the bus required a proof the sender did not give: decide rights on it, never on
   * `message.user`, a frame the sender wrote. `user` is the frame the router writes for this sender
   * on what it forwards (the proven user, else the sender's identity): the one for replies that
   * carry the sender's user (`welcome`, `pong`).
   */
  handle(message: RoutedMessage, userId: string, user: Frame): boolean;
  /** A peer joined (its first message, connect or probe, or `RouterServices.addPeer`). */
  peerAdded?(peer: Frame): void;
  /** A peer left (agentstop, unreachable, disconnect). Runs once per departure. */
  peerDropped?(peer: Frame): void;
  /**
   * What the extension queued and has not sent yet: a promise that resolves once it has gone out,
   * or undefined when nothing is queued (the router's `poll()` waits for it).
   */
  settled?(): Promise<void> | undefined;
  /** Counters the extension keeps, merged into router statistics under its `name`. */
  stats?(): Record<string, number>;
  close?(): Promise<void>;
}
