import {
  EXTERNAL_RPC_FRAME,
  SEND_PEER_FRAME,
  SEND_PLATFORM_FRAME,
  EMPTY_FRAME,
  ERRNO,
  EXTERNAL_RPC_ERROR_CODES,
  frameText,
  parseExternalRpcPayload,
  pythonJson,
  textFrame,
  type ExternalRpcPayload,
  type VipMessage,
} from '@vip/protocol';
import type { InboundVip, MappingContext } from './amqp-mapping.js';

/**
 * External RPC over RabbitMQ (docs/protocol.md 7.8), as VOLTTRON does it: a call to `peer` on
 * platform `X` is an `RPC` message published to the local `volttron` exchange with routing key
 * `X.<peer>`; the RPC shovel `shovel-<host>-<identity>` carries it to X's broker; the callee
 * answers to `<caller instance>.<caller>` and X's reverse shovel brings the answer back.
 *
 * The agent speaks the transport-neutral `external_rpc` subsystem with its router (6.3), as on
 * ZeroMQ; this bridge, inside the agent's RMQ connection, turns its `send_platform` into that
 * publish, and an `RPC` message whose `app_id` names another instance into the `send_peer` the
 * agent expects from its router. What crosses a link is never proven here (SECURITY.md): the user
 * handed on is empty (no capabilities), whatever the message says. A call whose routing key no
 * binding takes (no shovel to that platform for that peer) is dead-lettered and answered by the
 * local router with error 113: for an outstanding external call that becomes a JSON-RPC
 * PLATFORM_UNREACHABLE error, so the caller fails at once with PlatformUnreachableError; the
 * remote router's 113 (a peer missing there, answered to `<our instance>.<caller>` over the
 * reverse shovel) becomes PEER_UNREACHABLE (PeerUnreachableError).
 */
const RPC = 'RPC';
/** External calls whose answer or refusal is still awaited: bounded, the oldest dropped first. */
const MAX_OUTSTANDING = 4_096;

export interface ExternalPublish {
  /** The message to publish, addressed to `peer` on `platform` (routing key `<platform>.<peer>`). */
  readonly message: VipMessage;
  readonly platform: string;
}

export class ExternalRpcBridge {
  readonly #ctx: MappingContext;
  /** message id (Latin-1) -> where the call went. */
  readonly #outstanding = new Map<string, { readonly platform: string; readonly peer: string }>();

  readonly #requireProof: boolean;
  #unproven = 0;

  /** `requireProof`: the receiver's sender policy requires proofs (per-agent broker users). */
  constructor(ctx: MappingContext, requireProof = false) {
    this.#ctx = ctx;
    this.#requireProof = requireProof;
  }

  /** The publish for an agent's `external_rpc` `send_platform` to its router; undefined for anything else. */
  outbound(message: VipMessage): ExternalPublish | undefined {
    if (message.peer.length > 0 || !message.subsystem.equals(EXTERNAL_RPC_FRAME)) return undefined;
    if (message.args[0] === undefined || !message.args[0].equals(SEND_PLATFORM_FRAME)) return undefined;
    const payload = parseExternalRpcPayload(message.args[1] ?? EMPTY_FRAME);
    if (payload instanceof Error) throw payload;
    if (message.id.length > 0) {
      const key = message.id.toString('latin1');
      this.#outstanding.delete(key);
      this.#outstanding.set(key, { platform: payload.to_platform, peer: payload.to_peer });
      if (this.#outstanding.size > MAX_OUTSTANDING) this.#outstanding.delete(this.#outstanding.keys().next().value as string);
    }
    return {
      platform: payload.to_platform,
      message: {
        peer: textFrame(payload.to_peer),
        user: message.user,
        id: message.id,
        subsystem: textFrame(RPC),
        args: payload.args.map(textFrame),
      },
    };
  }

  /**
   * What the agent is handed for a delivery: a `send_peer` for an RPC message from another
   * instance or for the local router's 113 refusing an outstanding external call; `null` for a
   * message from another instance that is not RPC (dropped by the caller, counted); the message
   * itself otherwise.
   */
  inbound(vip: InboundVip): VipMessage | null {
    const m = vip.message;
    if (vip.platform !== this.#ctx.instance) {
      if (frameText(m.subsystem) === 'error' && m.peer.length === 0) return this.#remoteRefusal(vip);
      if (frameText(m.subsystem) !== RPC || m.peer.length === 0) return null;
      // where proofs are required, a caller or answer crossing a link is believed only when this broker
      // proved its sender (sender-trust.ts: a link's login `<platform>.<identity>`), never from app_id alone
      if (this.#requireProof && vip.trust !== 'proven') {
        this.#unproven += 1;
        return null;
      }
      this.#outstanding.delete(m.id.toString('latin1'));
      return this.#sendPeer(m, vip.platform, vip.senderIdentity, m.args.map(frameText));
    }
    if (m.peer.length > 0 || this.#outstanding.size === 0) return m;
    // a call the router carried over its platform link (external-dead-letter.ts) is answered there
    if (m.subsystem.equals(EXTERNAL_RPC_FRAME)) this.#outstanding.delete(m.id.toString('latin1'));
    if (frameText(m.subsystem) !== 'error') return m;
    const key = m.id.toString('latin1');
    const call = this.#outstanding.get(key);
    if (call === undefined || m.args[0] === undefined || frameText(m.args[0]) !== String(ERRNO.EHOSTUNREACH)) return m;
    this.#outstanding.delete(key);
    const refusal = {
      jsonrpc: '2.0',
      id: key,
      error: {
        code: EXTERNAL_RPC_ERROR_CODES.PLATFORM_UNREACHABLE,
        message: `platform ${JSON.stringify(call.platform)} is unreachable (unknown): no link of this broker carries calls to ${JSON.stringify(`${call.platform}.${call.peer}`)}`,
        data: { platform: call.platform, reason: 'unknown', peer: call.peer },
      },
    };
    return this.#sendPeer(m, call.platform, call.peer, [pythonJson(refusal)]);
  }

  /**
   * The remote router's 113 for an outstanding call (its platform's router only): the peer is not
   * there. A JSON-RPC PEER_UNREACHABLE error, so the call fails with PeerUnreachableError.
   */
  #remoteRefusal(vip: InboundVip): VipMessage | null {
    const m = vip.message;
    const key = m.id.toString('latin1');
    const call = this.#outstanding.get(key);
    if (call === undefined || call.platform !== vip.platform) return null;
    if (m.args[0] === undefined || frameText(m.args[0]) !== String(ERRNO.EHOSTUNREACH)) return null;
    this.#outstanding.delete(key);
    const refusal = {
      jsonrpc: '2.0',
      id: key,
      error: {
        code: EXTERNAL_RPC_ERROR_CODES.PEER_UNREACHABLE,
        message: `peer ${JSON.stringify(call.peer)} is unreachable on platform ${JSON.stringify(call.platform)}`,
        data: { platform: call.platform, reason: 'peer-unreachable', peer: call.peer },
      },
    };
    return this.#sendPeer(m, call.platform, call.peer, [pythonJson(refusal)]);
  }

  /** RPC messages of another instance dropped because their sender was not proven (proof required). */
  get unproven(): number {
    return this.#unproven;
  }

  /** Calls still awaiting an answer or refusal (bounded). */
  get outstanding(): number {
    return this.#outstanding.size;
  }

  #sendPeer(m: VipMessage, platform: string, peer: string, texts: string[]): VipMessage {
    const payload: ExternalRpcPayload = {
      to_platform: this.#ctx.instance,
      to_peer: this.#ctx.identity,
      from_platform: platform,
      from_peer: peer,
      args: texts,
    };
    // the router's empty peer frame: the agent's external_rpc hears only its router; user empty: unproven
    return {
      peer: EMPTY_FRAME,
      user: EMPTY_FRAME,
      id: m.id,
      subsystem: EXTERNAL_RPC_FRAME,
      args: [SEND_PEER_FRAME, textFrame(pythonJson(payload))],
    };
  }
}
