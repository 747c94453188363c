import { WireError } from './errors.js';

/** errnum -32001 (JSON-RPC UNAUTHORIZED), which VOLTTRON's router sends on a refused protected-topic publish (docs/protocol.md 3.7). */
export const UNAUTHORIZED_ERRNUM = -32001;

/** A VIP `error` with errnum -32001: the router refused a publish to a protected topic. The router's text is the message. */
export class UnauthorizedWireError extends WireError {
  override readonly code = 'VIP_UNAUTHORIZED';
  constructor(message: string, peer = '', subsystem = 'pubsub', options?: ErrorOptions) {
    super(UNAUTHORIZED_ERRNUM, message, peer, subsystem, options);
    this.name = 'UnauthorizedWireError';
  }
}
