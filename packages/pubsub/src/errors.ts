import { VipError } from '@vip/protocol';

/** JSON-RPC `UNAUTHORIZED`, the errnum VOLTTRON puts on a refused protected-topic publish (docs/protocol.md 3.7). */
export const UNAUTHORIZED_ERRNUM = -32001;

/** A publish to a protected topic without the required capabilities. */
export class UnauthorizedPublishError extends VipError {
  readonly code = 'VIP_UNAUTHORIZED';
  readonly errnum = UNAUTHORIZED_ERRNUM;
  readonly topic: string;
  readonly required: readonly string[];
  constructor(topic: string, required: readonly string[], message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UnauthorizedPublishError';
    this.topic = topic;
    this.required = required;
  }
}
