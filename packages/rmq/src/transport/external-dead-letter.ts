import { EXTERNAL_RPC_FRAME, SEND_PLATFORM_FRAME, pythonJson, textFrame, type ExternalRpcPayload, type VipMessage } from '@vip/protocol';
import { splitRoutingKey, type InboundVip } from './amqp-mapping.js';

/**
 * Which component carries an external call on a RabbitMQ platform (docs/protocol.md 7.8):
 *
 * An agent's external call or answer is always VOLTTRON's `RPC` message to `<platform>.<peer>`,
 * published by the agent itself under its own broker user (ExternalRpcBridge). Whatever binds that
 * key on the broker carries it: an RPC shovel or federation. A key nothing binds is dead-lettered
 * to the router; when the router has a platform link of its own to that platform (the proxy
 * router's link to a ZeroMQ platform, docs/protocol.md 6.5), the dead letter becomes the caller's
 * `external_rpc send_platform` for the core, and ExternalRpcExtension sends it over that link, with
 * the caller the broker proved. Otherwise it is answered with error 113, as any dead letter.
 *
 * Inbound, nothing is ambiguous either: an `RPC` message of another instance in an agent's queue came
 * over a broker link (the bridge turns it into `send_peer`); an `external_rpc send_peer` from the
 * local router came over a platform link (ExternalRpcExtension).
 */
export type ExternalDeadLetter =
  /** Not an external call for a platform link: the usual dead-letter handling. */
  | { readonly kind: 'none' }
  /** For a platform link, but its sender is not proven where proof is required: not sent (113 as usual). */
  | { readonly kind: 'unproven' }
  /** The caller's `send_platform`, for the core as if the caller had sent it to the router. */
  | { readonly kind: 'send_platform'; readonly message: VipMessage };

/**
 * What to do with a dead letter of this instance routed with `routingKey`. `linked`: whether the
 * router has a platform link to a platform; `requiresProof`: whether unproven senders have no user here.
 */
export function externalDeadLetter(
  vip: InboundVip,
  routingKey: string,
  instance: string,
  linked: ((platform: string) => boolean) | undefined,
  requiresProof: boolean,
): ExternalDeadLetter {
  if (linked === undefined || vip.platform !== instance) return NONE;
  const m = vip.message;
  if (m.peer.length === 0 || m.subsystem.toString('utf8') !== 'RPC') return NONE;
  const key = splitRoutingKey(routingKey);
  if (key === undefined || key.instance === instance || key.identity === '' || !linked(key.instance)) return NONE;
  // the caller named on the link is the sender the broker proved: never a claimed app_id
  if (requiresProof && vip.trust === 'anonymous') return { kind: 'unproven' };
  const payload: ExternalRpcPayload = {
    to_platform: key.instance,
    to_peer: key.identity,
    // filled in by ExternalRpcExtension from the sender
    from_platform: '',
    from_peer: '',
    args: m.args.map((a) => a.toString('utf8')),
  };
  return {
    kind: 'send_platform',
    message: { ...m, subsystem: EXTERNAL_RPC_FRAME, args: [SEND_PLATFORM_FRAME, textFrame(pythonJson(payload))] },
  };
}

const NONE: ExternalDeadLetter = { kind: 'none' };
