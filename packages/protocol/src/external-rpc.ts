import { z } from 'zod';
import { VipError } from './errors.js';
import { textFrame, type Frame } from './frames.js';
import { parsePayload } from './payloads.js';

/**
 * The `external_rpc` payload (docs/protocol.md 6.3), in VOLTTRON's key order: who it is for, who it
 * is from, and the JSON-RPC texts it carries (requests one way, responses the other).
 */
export const ExternalRpcPayloadSchema = z.object({
  to_platform: z.string().max(256),
  to_peer: z.string().max(4096),
  from_platform: z.string().max(256),
  from_peer: z.string().max(4096),
  args: z.array(z.string()).max(1024),
});
export type ExternalRpcPayload = z.output<typeof ExternalRpcPayloadSchema>;

export const parseExternalRpcPayload = (raw: unknown) => parsePayload(ExternalRpcPayloadSchema, 'external_rpc payload', raw);

/** The two `external_rpc` operations: a caller asks its router (`send_platform`), a router hands over (`send_peer`). */
export const EXTERNAL_RPC_OPS = ['send_platform', 'send_peer'] as const;

// The frames every component writing or matching `external_rpc` uses (the router's
// ExternalRpcExtension, the RMQ bridge and dead letters, the proxy links): shared buffers, never written to.
/** The subsystem frame `external_rpc`. */
export const EXTERNAL_RPC_FRAME: Frame = textFrame('external_rpc');
/** The op frame of a caller's request to its router. */
export const SEND_PLATFORM_FRAME: Frame = textFrame('send_platform');
/** The op frame of a router handing a call or answer to a peer. */
export const SEND_PEER_FRAME: Frame = textFrame('send_peer');

/**
 * JSON-RPC error codes a vip router answers an external call with when it cannot be delivered
 * (VOLTTRON sends nothing and the caller times out). In the implementation-defined server range.
 */
export const EXTERNAL_RPC_ERROR_CODES = {
  /** The platform is unknown to the caller's router, or its link is not connected. */
  PLATFORM_UNREACHABLE: -32050,
  /** The remote platform has no such peer (or could not deliver to it). */
  PEER_UNREACHABLE: -32051,
} as const;

/** Why an external call could not reach its platform. */
export type PlatformUnreachableReason = 'unknown' | 'disconnected' | 'link-lost' | 'send-failed';

/**
 * An external RPC call or notification whose platform is unknown or not connected, or whose link
 * went down before the answer came (`reason`). Fails at once instead of timing out.
 */
export class PlatformUnreachableError extends VipError {
  readonly code = 'VIP_PLATFORM_UNREACHABLE';
  readonly platform: string;
  readonly reason: PlatformUnreachableReason | string;
  constructor(platform: string, reason: PlatformUnreachableReason | string, message?: string, options?: ErrorOptions) {
    super(message ?? `platform ${JSON.stringify(platform)} is unreachable (${reason})`, options);
    this.name = 'PlatformUnreachableError';
    this.platform = platform;
    this.reason = reason;
  }
}

/** The `data` of a PLATFORM_UNREACHABLE / PEER_UNREACHABLE JSON-RPC error. */
export const ExternalRpcErrorDataSchema = z.object({ platform: z.string(), reason: z.string(), peer: z.string().optional() }).loose();
