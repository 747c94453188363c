import { VipError } from '@vip/protocol';

/**
 * A ZeroMQ peer the proxy router would not host: its identity cannot be a RabbitMQ routing key,
 * is held on RabbitMQ already (another agent's exclusive queue), or the router refused or did not
 * answer `peerlist add`. The peer gets error 13 for the message it sent.
 */
export class ProxyPeerRefusedError extends VipError {
  readonly code = 'VIP_PROXY_PEER_REFUSED';
  readonly identity: string;
  constructor(identity: string, why: string, options?: ErrorOptions) {
    super(`ZeroMQ peer ${JSON.stringify(identity)} refused by the proxy router: ${why}`, options);
    this.name = 'ProxyPeerRefusedError';
    this.identity = identity;
  }
}
