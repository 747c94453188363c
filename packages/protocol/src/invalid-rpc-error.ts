import { InvalidPayloadError } from './errors.js';

/**
 * A JSON-RPC payload that breaks the JSON-RPC 2.0 rules as VOLTTRON checks them. Carries what the
 * callee answers with (`rpcCode`, `rpcMessage`, the request `id` when one could be read), so that
 * `errorResponseFor` can build the same error object a Python agent would send.
 */
export class InvalidRpcError extends InvalidPayloadError {
  readonly rpcCode: number;
  readonly rpcMessage: string;
  /** The `data.detail` text Python puts in the error response. */
  readonly rpcDetail: string;
  readonly id: string | number | null;
  constructor(rpcCode: number, rpcMessage: string, detail: string, id: string | number | null = null, options?: ErrorOptions) {
    super('JSON-RPC message', `${rpcMessage}: ${detail}`, options);
    this.name = 'InvalidRpcError';
    this.rpcCode = rpcCode;
    this.rpcMessage = rpcMessage;
    this.rpcDetail = detail;
    this.id = id;
  }
}
