import { TimeoutError, VipError } from '@vip/protocol';

/** The platform did not answer the hello handshake in time (docs/protocol.md 2.1). */
export class HelloTimeoutError extends TimeoutError {
  readonly identity: string;
  /** `kind`: the bus, for the likely causes (on RabbitMQ the broker admits, auth.json does not). */
  constructor(identity: string, timeoutMs: number, target: string, kind?: string) {
    super(`hello handshake of ${JSON.stringify(identity)} with ${target}`, timeoutMs);
    this.name = 'HelloTimeoutError';
    this.identity = identity;
    const taken = `the identity ${JSON.stringify(identity)} is already used by another connected agent.`;
    this.message =
      `no welcome from the platform at ${target} within ${timeoutMs / 1000} s for identity ${JSON.stringify(identity)}. ` +
      (kind === 'rmq'
        ? `Likely causes: no platform is running for that instance and vhost; ${taken}`
        : 'Likely causes: the platform is not running or not listening on that address; ' +
          "this agent's public key is not in the platform's auth.json (see `vipctl auth add` / `vipctl auth approve`); " +
          taken);
  }
}

/**
 * The agent was used before `start()` (or after `stop()`): nothing can be sent. `code` is
 * VIP_CLOSED, as for a closed agent; the message says what to do.
 */
export class NotStartedError extends VipError {
  readonly code = 'VIP_CLOSED';
  constructor(identity: string) {
    super(
      `agent ${JSON.stringify(identity)} is not started: call await agent.start() first (connectZmqAgent and connectRmqAgent start the agent they return)`,
    );
    this.name = 'NotStartedError';
  }
}

/**
 * A publish the platform never confirmed: it was sent, and the connection went before the reply
 * came (the platform restarted, the network broke). It may or may not have reached subscribers;
 * publishing it again may deliver it twice.
 */
export class PublishNotConfirmedError extends VipError {
  readonly code = 'VIP_NOT_CONFIRMED';
  readonly topic: string;
  constructor(topic: string, options?: ErrorOptions) {
    super(
      `publish to ${JSON.stringify(topic)} not confirmed: the connection to the platform was lost before its reply; it may or may not have been delivered`,
      options,
    );
    this.name = 'PublishNotConfirmedError';
    this.topic = topic;
  }
}

/** A publish made while the agent is disconnected did not fit in its outbox (`PubSubSubsystemOptions.outbox`); never sent. */
export class PublishQueueFullError extends VipError {
  readonly code = 'VIP_QUEUE_FULL';
  readonly topic: string;
  constructor(topic: string, limit: string, options?: ErrorOptions) {
    super(
      `publish to ${JSON.stringify(topic)} refused: the agent is disconnected and its outbox is full (${limit}); it was not sent`,
      options,
    );
    this.name = 'PublishQueueFullError';
    this.topic = topic;
  }
}

/** A JSON-RPC error response (code other than -32000 / -32601). */
export class RpcError extends VipError {
  readonly code: 'VIP_RPC' | 'VIP_METHOD_NOT_FOUND' | 'VIP_REMOTE_EXCEPTION' = 'VIP_RPC';
  readonly rpcCode: number;
  readonly rpcMessage: string;
  readonly data: unknown;
  constructor(rpcCode: number, rpcMessage: string, data?: unknown, options?: ErrorOptions) {
    super(detailOf(data) ?? rpcMessage, options);
    this.name = 'RpcError';
    this.rpcCode = rpcCode;
    this.rpcMessage = rpcMessage;
    this.data = data;
  }
}

/** -32601: the peer does not export that method (Python `MethodNotFound`). */
export class MethodNotFoundError extends RpcError {
  override readonly code = 'VIP_METHOD_NOT_FOUND';
  readonly method: string;
  constructor(method: string, data?: unknown, options?: ErrorOptions) {
    super(-32601, 'unimplemented method', data ?? { detail: `method '${method}' is not implemented` }, options);
    this.name = 'MethodNotFoundError';
    this.method = method;
  }
}

/** -32000: the remote method raised; carries VOLTTRON's `exception.py` fields (Python `RemoteError`). */
export class RemoteError extends RpcError {
  override readonly code: 'VIP_REMOTE_EXCEPTION' = 'VIP_REMOTE_EXCEPTION';
  readonly excType: string;
  readonly excArgs: readonly unknown[];
  readonly excTb: string | undefined;
  constructor(detail: string, excType: string, excArgs: readonly unknown[] = [], excTb?: string, data?: unknown) {
    super(-32000, 'unhandled exception', data ?? { detail });
    this.name = 'RemoteError';
    this.message = `${excType}: ${detail}`;
    this.excType = excType;
    this.excArgs = excArgs;
    this.excTb = excTb;
  }
  /** The remote exception's own message (`data.detail`). */
  get detail(): string {
    return detailOf(this.data) ?? '';
  }
}

/** Throw this from an exported method to choose the `exc_type` a Python caller sees. */
export class RpcException extends Error {
  readonly excType: string;
  readonly excArgs: readonly unknown[];
  constructor(excType: string, message: string, excArgs?: readonly unknown[]) {
    super(message);
    this.name = 'RpcException';
    this.excType = excType;
    this.excArgs = excArgs ?? [message];
  }
}

function detailOf(data: unknown): string | undefined {
  if (data !== null && typeof data === 'object' && 'detail' in data) {
    const d = (data as { detail: unknown }).detail;
    if (typeof d === 'string') return d;
  }
  return undefined;
}
