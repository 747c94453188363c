import { Router, type SocketOptions } from 'zeromq';

/** libzmq draft socket option ZMQ_ROUTER_NOTIFY and its flags (zmq_draft.h). */
const ZMQ_ROUTER_NOTIFY = 97;
const ZMQ_NOTIFY_CONNECT = 1;
const ZMQ_NOTIFY_DISCONNECT = 2;

/**
 * A ROUTER socket with ZMQ_ROUTER_NOTIFY on (connect and disconnect). libzmq then queues
 * `[routingId, '']` when a peer's handshake completes and again when it goes away.
 * zeromq.js has no named option for it; the protected `setInt32Option` reaches it
 * (the prebuilt libzmq 4.3.5 in zeromq 6.8 has draft options on).
 *
 * A notification has the same shape as a VIP router probe (docs/protocol.md 1.3) and as a lone empty
 * frame any peer may send: `PeerAttribution` (attribution/) makes sense of them.
 */
export class NotifyingRouter extends Router {
  constructor(options?: SocketOptions<Router>) {
    super(options);
    this.setInt32Option(ZMQ_ROUTER_NOTIFY, ZMQ_NOTIFY_CONNECT | ZMQ_NOTIFY_DISCONNECT);
  }
}
