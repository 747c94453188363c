import type { AuthMechanism, Capabilities } from '@vip/protocol';

/**
 * The contract between the ZAP handler (`auth/`) and the ZeroMQ router transport.
 *
 * zeromq.js exposes no per-message `User-Id`, and the ZAP request carries the *server* socket's
 * routing id, not the client's: nothing links a ZAP admission to the connection it admitted.
 * The router transport makes that link from the order of events it controls (README "Peer
 * attribution"), so it, not the ZAP handler, decides *when* an admission is answered: the ZAP
 * handler hands each admissible request to the `AdmissionSink`, and the sink answers it through
 * `PendingAdmission.answer`, having recorded the admission before the 200 goes out. A
 * connection can therefore never appear before the admission that lets it in is known.
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

/**
 * How an answer ended: `sent` (a 200 was written), `gone` (the connection that asked is gone;
 * nothing was admitted), `refused` (the rules in force no longer admit the key: a 400),
 * `declined` (the sink turned it down: a 300, temporary failure), `closed` (the handler closed;
 * nothing was sent), `answered` (answered before: nothing sent again).
 */
export type AdmissionAnswer = 'sent' | 'gone' | 'refused' | 'declined' | 'closed' | 'answered';

/** A ZAP request the rules admit, waiting for the sink to answer it. */
export interface PendingAdmission {
  /** The admission as decided when the request arrived (its `identity` pin decides the queue). */
  readonly admission: ZapAdmission;
  /**
   * Decides the request again with the rules in force now and answers it. When the key is still
   * admitted, `accept(admission)` runs synchronously first: `true` lets the 200 go out (the sink
   * has recorded the admission, so the connection cannot attach before it is known), `false`
   * sends a 300 instead. Resolves with what happened; call it once.
   */
  answer(accept: (admission: ZapAdmission) => boolean): Promise<AdmissionAnswer>;
  /** Answers 300 (temporary failure) without admitting: queue full, waited too long, closing. */
  decline(reason: string): void;
}

export interface AdmissionSink {
  /** A request the rules admit; the sink answers it now or later through `pending`. Never throws. */
  admit(pending: PendingAdmission): void;
}
