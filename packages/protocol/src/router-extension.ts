import type { Frame } from './frames.js';
import type { RoutedMessage } from './envelope.js';
import type { DeliveryResult } from './transport-contract.js';
import type { Logger } from './logger.js';

/**
 * How services that live inside the router (PubSubService, RoutingService, ExternalRPCService,
 * the legacy pubsub wrapper...) plug into it without depending on `@vip/router`.
 * The router owns peers and transports; an extension only sees decoded messages and these services.
 */
export interface RouterServices {
  /** Deliver one message (`from` empty = the router). Never throws for peer problems. */
  deliver(to: Frame, from: Frame, user: Frame, id: Frame, subsystem: Frame, args: readonly Frame[]): Promise<DeliveryResult>;
  /** The peer is unreachable: drop it everywhere (peerlist drop broadcast, every extension's `peerDropped`). */
  dropPeer(peer: Frame): void;
  /** Bump a named counter shown in router statistics (drops, rejections...). */
  count(counter: string, n?: number): void;
  /**
   * True when `userId`, the user the transport proved for a message (the `userId` of `handle`),
   * is an authenticated link to another platform. Platform-level operations (pubsub
   * `external_publish`/`external_list`, and the link side of `routing_table`/`external_rpc`) are
   * accepted only from such users; a local agent is never one, whatever frames it writes.
   */
  isPlatformLink(userId: string): boolean;
  readonly instanceName: string;
  readonly logger: Logger;
}

export interface RouterExtension {
  /** Subsystems served when a message is addressed to the router (empty recipient). */
  readonly subsystems: readonly string[];
  /** Called once before the router routes its first message. */
  attach(services: RouterServices): void;
  /**
   * Handle one router-addressed message. Return false when the subsystem/op is unknown to it (the
   * router answers error 93). `userId` is the sender's user as the transport proved it (its ZAP
   * admission, its broker user), or its identity where nothing is proven (authentication off):
   * decide rights on it, never on `message.user`, a frame the sender wrote.
   */
  handle(message: RoutedMessage, userId: string): boolean;
  /** A peer left (agentstop, unreachable, disconnect). */
  peerDropped?(peer: Frame): void;
  /** Counters the extension keeps, merged into router statistics. */
  stats?(): Record<string, number>;
  close?(): Promise<void>;
}
