import type { AuthMechanism, Capabilities } from '@vip/protocol';

/**
 * The contract between the ZAP handler (`auth/`) and the ZeroMQ router transport.
 *
 * zeromq.js exposes no per-message `User-Id`, and the ZAP request carries the *server* socket's
 * routing id, not the client's. To bind a connecting peer's routing identity to the user id that
 * authentication chose, the ZAP handler answers one request at a time and, after each admission,
 * waits for the router transport to see the matching ZMQ_ROUTER_NOTIFY connect event
 * (`[routingId, '']`). The transport calls back through `AdmissionSink`.
 */

/** The mechanism of a ZAP request (auth.json's `mechanism`). */
export type ZapMechanism = AuthMechanism;

export interface ZapAdmission {
  /** The user id authentication assigned (auth entry `user_id`, or VOLTTRON's composed form). */
  readonly userId: string;
  readonly mechanism: ZapMechanism;
  /** CURVE: the client's public key, 43-char base64url; PLAIN: the user name; NULL: ''. */
  readonly credential: string;
  /** Peer IP (no port) or `localhost:0:0:<pid>` over ipc, as libzmq reports it. */
  readonly address: string;
  readonly domain: string;
  /** When the auth entry pins an identity, only a peer with that routing id may use this user. */
  readonly identity?: string;
  /** The entry's capabilities, normalised to `{name: null | {param: value}}`. */
  readonly capabilities?: Capabilities;
}

export interface AdmissionSink {
  /**
   * Called after the ZAP handler replied 200 for `admission`. Resolves once the transport has
   * attached it to the next connecting routing id, or after the transport's timeout (the
   * connection may have been dropped between admission and attach). The ZAP handler does not
   * answer the next request before this settles.
   */
  admitted(admission: ZapAdmission): Promise<void>;
}
