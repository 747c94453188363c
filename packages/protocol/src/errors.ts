/**
 * Every failure is a class with a stable `code`; callers branch on `code`, never on `message`.
 * Errors that travel on the wire as a VIP `error` message also carry their `errnum`.
 */
export type VipErrorCode =
  | 'VIP_PROTOCOL'
  | 'VIP_UNREACHABLE'
  | 'VIP_AGAIN'
  | 'VIP_UNKNOWN_SUBSYSTEM'
  | 'VIP_REMOTE'
  | 'VIP_INVALID_PAYLOAD'
  | 'VIP_TIMEOUT'
  | 'VIP_CLOSED'
  | 'VIP_CONFIG'
  | 'VIP_TRANSPORT'
  | 'VIP_ADDRESS'
  | 'VIP_KEY'
  | 'VIP_AUTH'
  | 'VIP_RPC'
  | 'VIP_METHOD_NOT_FOUND'
  | 'VIP_REMOTE_EXCEPTION'
  | 'VIP_UNAUTHORIZED'
  | 'VIP_NOT_CONFIRMED'
  | 'VIP_QUEUE_FULL'
  | 'VIP_DISCOVERY_UNREACHABLE'
  | 'VIP_DISCOVERY_RESPONSE'
  | 'VIP_PROXY_PEER_REFUSED'
  | 'VIP_KEY_CHANGED';

export abstract class VipError extends Error {
  abstract readonly code: VipErrorCode;
}

/** Linux errno values as VOLTTRON puts them on the wire (docs/protocol.md 1.8). */
export const ERRNO = { EAGAIN: 11, EACCES: 13, EPROTONOSUPPORT: 93, EHOSTUNREACH: 113 } as const;
export const ERRNO_MESSAGES: Readonly<Record<number, string>> = {
  11: 'Resource temporarily unavailable',
  13: 'Permission denied',
  93: 'Protocol not supported',
  113: 'No route to host',
};

/** A frame sequence or payload that breaks the VIP wire rules. */
export class ProtocolError extends VipError {
  readonly code = 'VIP_PROTOCOL';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ProtocolError';
  }
}

/** A VIP `error` message received from a router or peer (errnum other than the ones below). */
export class WireError extends VipError {
  readonly code: VipErrorCode = 'VIP_REMOTE';
  readonly errnum: number;
  readonly peer: string;
  readonly subsystem: string;
  constructor(errnum: number, message: string, peer = '', subsystem = '', options?: ErrorOptions) {
    super(message, options);
    this.name = 'WireError';
    this.errnum = errnum;
    this.peer = peer;
    this.subsystem = subsystem;
  }
}

/** errno 113: the recipient is not connected. */
export class PeerUnreachableError extends WireError {
  override readonly code = 'VIP_UNREACHABLE';
  constructor(peer: string, subsystem = '', options?: ErrorOptions) {
    super(ERRNO.EHOSTUNREACH, `peer ${JSON.stringify(peer)} is unreachable`, peer, subsystem, options);
    this.name = 'PeerUnreachableError';
  }
}

/** errno 11: the recipient's queue is full; the message was not delivered. */
export class AgainError extends WireError {
  override readonly code = 'VIP_AGAIN';
  constructor(peer: string, subsystem = '', options?: ErrorOptions) {
    super(ERRNO.EAGAIN, `peer ${JSON.stringify(peer)} cannot take more messages now`, peer, subsystem, options);
    this.name = 'AgainError';
  }
}

/** errno 93: the router or peer does not serve that subsystem. */
export class UnknownSubsystemError extends WireError {
  override readonly code = 'VIP_UNKNOWN_SUBSYSTEM';
  constructor(subsystem: string, peer = '', options?: ErrorOptions) {
    super(ERRNO.EPROTONOSUPPORT, `subsystem ${JSON.stringify(subsystem)} is not supported`, peer, subsystem, options);
    this.name = 'UnknownSubsystemError';
  }
}

/** A payload (JSON, config, CLI argument) that does not match its schema. */
export class InvalidPayloadError extends VipError {
  readonly code = 'VIP_INVALID_PAYLOAD';
  readonly what: string;
  readonly detail: string;
  constructor(what: string, detail: string, options?: ErrorOptions) {
    super(`invalid ${what}: ${detail}`, options);
    this.name = 'InvalidPayloadError';
    this.what = what;
    this.detail = detail;
  }
}

export class TimeoutError extends VipError {
  readonly code = 'VIP_TIMEOUT';
  readonly operation: string;
  readonly timeoutMs: number;
  constructor(operation: string, timeoutMs: number, options?: ErrorOptions) {
    super(`${operation} timed out after ${timeoutMs} ms`, options);
    this.name = 'TimeoutError';
    this.operation = operation;
    this.timeoutMs = timeoutMs;
  }
}

/** Work attempted on something already closed. */
export class ClosedError extends VipError {
  readonly code = 'VIP_CLOSED';
  constructor(what: string, options?: ErrorOptions) {
    super(`${what} is closed`, options);
    this.name = 'ClosedError';
  }
}

export class ConfigError extends VipError {
  readonly code = 'VIP_CONFIG';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

/** A transport-level failure (bind, connect, socket, broker); the native error is the `cause`. */
export class TransportError extends VipError {
  readonly code = 'VIP_TRANSPORT';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TransportError';
  }
}

export class AddressError extends VipError {
  readonly code = 'VIP_ADDRESS';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AddressError';
  }
}

export class KeyError extends VipError {
  readonly code = 'VIP_KEY';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'KeyError';
  }
}

export class AuthError extends VipError {
  readonly code = 'VIP_AUTH';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AuthError';
  }
}

export const isVipError = <C extends VipErrorCode>(e: unknown, code: C): e is VipError & { code: C } =>
  e instanceof VipError && e.code === code;
