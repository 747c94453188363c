import type { Frame, Logger, RoutedMessage, RouterTransport, UnauthorizedError } from '@vip/protocol';
import type { ManagementOptions, RmqLinkOptionsInput } from '@vip/rmq';

// What a ZmqProxyRouter is given and what it counts (its public shapes; the behaviour is zmq-proxy-router.ts).

export interface ZmqProxyRouterOptions {
  /**
   * The ZeroMQ side: a RouterTransport whose `userId` is what the bus proved for each sender (a
   * ZmqRouterTransport with CURVE and the platform's ZAP handler: the auth.json entry of its key).
   * The proxy starts and closes it.
   */
  readonly transport: RouterTransport;
  /**
   * The RabbitMQ side, without identity: the proxy's login. With per-agent broker users it must be
   * the proxy's own user `<instance>.zmq.proxy.router` (the one receivers believe for ZeroMQ
   * peers); on a shared login nothing is proven on RabbitMQ, as for every other client there.
   */
  readonly rmq: RmqLinkOptionsInput;
  /** Management API, for true subscriber counts and `list` of the ZeroMQ peers' pubsub. */
  readonly management?: ManagementOptions;
  /** Third argument of `welcome` (the router's identity as ZeroMQ peers see it); default `router`. */
  readonly routerIdentity?: string;
  /**
   * Bytes of one ZeroMQ peer's messages waiting for the RabbitMQ side (a peer sending faster than
   * the broker takes); beyond it a message is dropped, counted `dropped`, and its sender gets error
   * 11. Default 16 MiB.
   */
  readonly peerPendingBytes?: number;
  /**
   * Whether the ZeroMQ peer proven as `userId` (its auth.json user) may hold `identity`. The
   * platform's service identities must be refused unless auth.json pins them to that user, as the
   * ZeroMQ platform's router does (RMQ agents trust `config.store`, `platform.auth`... by identity).
   * Default: every identity but @vip/rmq's platform identities (`isPlatformIdentity`).
   */
  readonly mayHold?: (identity: string, userId: string) => boolean;
  /**
   * Remote ZeroMQ platforms linking to this RabbitMQ platform through the proxy's ROUTER. A sender
   * whose proven user (its CURVE key, as ZAP admitted it) `isLink` is a platform's link: its
   * messages go to `fromLink`, it never joins as a peer; `gone` when its connection closes.
   */
  readonly platformLinks?: ProxyPlatformLinks;
  /**
   * The platform's protected topics for a ZeroMQ peer's publish: the refusal of `user` (the peer's
   * proven user as RabbitMQ receivers see it, `<instance>.<auth.json user>`) publishing on `topic`,
   * or undefined when allowed. The broker checks topic permissions only for the proxy's own login,
   * which publishes for every peer, so without this every hosted peer could publish on every
   * protected topic. Default: every topic allowed (no protected topics).
   */
  readonly authorizePublish?: (topic: string, user: string) => UnauthorizedError | undefined;
  readonly logger?: Logger;
}

/** What the proxy hands platform links to (the platform's link table glue). */
export interface ProxyPlatformLinks {
  isLink(userId: string): boolean;
  fromLink(userId: string, message: RoutedMessage): void;
  gone(peer: Frame): void;
}

export interface ZmqProxyRouterStats {
  /** ZeroMQ peers hosted now. */
  peers: number;
  fromZmq: number;
  toZmq: number;
  /** Of `toZmq`: frame lists RabbitMQ agents sent through the proxy inbox (VOLTTRON's send_via_proxy). */
  viaInbox: number;
  /** Hellos refused: identity not usable as a routing key, or held on RabbitMQ (its queue is locked). */
  refused: number;
  /** Inbox frame lists whose sender frame is not the sender the broker proved: dropped. */
  spoofed: number;
  /** Inbox frame lists for no ZeroMQ peer hosted here, or not frame lists at all: dropped. */
  undeliverable: number;
  /** Deliveries to a ZeroMQ peer that failed (unreachable, queue full). */
  zmqFailures: number;
  /** Messages of ZeroMQ peers dropped because their pending bytes were over `peerPendingBytes` (error 11 sent). */
  dropped: number;
  /** Messages from remote platforms' links (handed to `platformLinks`). */
  fromLinks: number;
  /** Publishes of ZeroMQ peers refused by `authorizePublish` (protected topics): error and a count of 0 to the peer. */
  unauthorized: number;
}
