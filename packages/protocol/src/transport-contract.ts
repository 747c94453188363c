import type { Frame } from './frames.js';
import type { RoutedMessage, UnroutableReason, VipMessage } from './envelope.js';

/**
 * The seam between routing logic and a message bus. The routing core (`@vip/router`),
 * PubSubService and the agent see only these types; ZeroMQ envelopes, CURVE/ZAP and AMQP
 * routing keys stay inside `@vip/zmq` and `@vip/rmq`.
 *
 * Handlers are plain callbacks (not async iterables) because they sit on the per-message hot path.
 */
export type TransportKind = 'zmq' | 'rmq' | 'memory';

export type PeerEvent =
  | { readonly type: 'peer-connected'; readonly peer: Frame; readonly user: string }
  | { readonly type: 'peer-gone'; readonly peer: Frame; readonly reason: 'closed' | 'unreachable' };

export interface RouterTransportHandlers {
  /**
   * One routable message, in arrival order per peer. `userId` is the user the bus proved for the
   * sender; empty when nothing was proven (see `RouterTransport.requiresProof`).
   */
  message(message: RoutedMessage, userId: string): void;
  /** A router probe: the sender connected and should be registered (docs/protocol.md 1.3). */
  probe?(sender: Frame): void;
  /**
   * A frame set that could not be routed. The transport counts it in its own `stats()`; the
   * handler counts it in its own view (the router's `stats().dropped` is what it was told plus
   * what it found itself; do not add the two views together).
   */
  unroutable?(reason: UnroutableReason, sender: Frame | undefined): void;
  /** Connection-level events where the transport can see them (ZMQ_ROUTER_NOTIFY, AMQP). */
  peerEvent?(event: PeerEvent): void;
}

/** Outcome of a delivery: `ok`, or why the message did not reach the peer's queue. */
export type DeliveryResult = 'ok' | 'unreachable' | 'again';

export interface RouterTransport {
  readonly kind: TransportKind;
  /**
   * How the router reads an empty `userId`. True: the bus required a proof and the sender gave
   * none (RabbitMQ with per-agent broker users): the sender has no user and no rights, not even
   * over its own identity. False or absent: the bus proves nothing here (authentication off): the
   * sender is taken as its identity, as VOLTTRON.
   */
  readonly requiresProof?: boolean;
  /** Bind/declare; resolves when peers can connect. Idempotent. */
  start(handlers: RouterTransportHandlers): Promise<void>;
  /**
   * Deliver frames to `to` as if sent by `from` (empty = the router). Args are sent byte-exact.
   * Never throws for peer problems: the result says whether the peer got it.
   */
  deliver(to: Frame, from: Frame, user: Frame, id: Frame, subsystem: Frame, args: readonly Frame[]): Promise<DeliveryResult>;
  /** Stop accepting, release sockets/channels. Idempotent; later deliveries resolve 'unreachable'. */
  close(): Promise<void>;
}

export type ConnectionStatus =
  | { readonly type: 'connected' }
  | { readonly type: 'disconnected'; readonly reason?: string }
  | { readonly type: 'retrying'; readonly attempt: number }
  | { readonly type: 'closed' };

/** The agent's side of a transport (the seed's BaseConnection). */
export interface AgentConnection {
  readonly kind: TransportKind;
  readonly identity: string;
  /** Register the single inbound handler (peer = sender). Set before `open`. */
  onMessage(handler: (message: VipMessage) => void): void;
  /** Register a status listener; returns a function that removes it. */
  onStatus(listener: (status: ConnectionStatus) => void): () => void;
  /** Connect; resolves when the transport is up (the hello handshake is the agent's job). */
  open(): Promise<void>;
  /** Send one message (peer = recipient). Rejects with ClosedError after close, TransportError on failure. */
  send(message: VipMessage): Promise<void>;
  /** Idempotent; afterwards `send` rejects with ClosedError. */
  close(): Promise<void>;
}
