import {
  EXTERNAL_RPC_FRAME,
  SEND_PEER_FRAME,
  buildError,
  ClosedError,
  EMPTY_FRAME,
  ERRNO,
  EXTERNAL_RPC_ERROR_CODES,
  frameText,
  parseExternalRpcPayload,
  pythonJson,
  textFrame,
  type ExternalRpcPayload,
  type Frame,
  type RoutedMessage,
  type RouterExtension,
  type RouterServices,
  type VipMessage,
} from '@vip/protocol';
import type { PlatformLinkTable } from './platform-table.js';
import { PendingExternalCalls, requestIdsOf, responseIdsOf, type RpcIdValue } from './pending-external-calls.js';

const EINVAL = 22;
const EOPNOTSUPP = 95;

export interface ExternalRpcExtensionOptions {
  /** Calls remembered while their answer is awaited (to fail them when a link goes down). Default 10 000. */
  readonly maxPendingCalls?: number;
  /**
   * The user frame a callee sees for a call from another platform: default `<instance>.<caller's
   * user>`, the caller's user as its platform wrote it, qualified by the platform its link proved.
   */
  readonly remoteUser?: (instance: string, user: Frame) => Frame;
}

/** `<instance>.<user>`: a remote platform's user as this platform checks rights for it. */
export function qualifiedRemoteUser(instance: string, user: Frame): Frame {
  return textFrame(`${instance}.${frameText(user)}`);
}

/**
 * The `external_rpc` subsystem (docs/protocol.md 6.3), bus-neutral over a PlatformLinkTable (the
 * RabbitMQ proxy router can serve it the same way):
 *
 * - `send_platform` from a local agent: `from_platform`/`from_peer` filled in, sent as
 *   `send_peer` on the link to `to_platform`. An unknown or unreachable platform is answered at
 *   once with a JSON-RPC error per request (`PLATFORM_UNREACHABLE`), as is every call still
 *   awaiting its answer when that link goes down: no call waits for a timeout.
 * - `send_peer` from a link (its key proven): handed to `to_peer` with an empty sender frame;
 *   `from_platform` is the link's own instance, whatever the frame said. A peer that is not there
 *   is answered back to the calling platform with `PEER_UNREACHABLE` errors.
 * - `send_peer` from a local agent, `send_platform` from a link, unknown operations, bad JSON:
 *   an `error` answer (EACCES / EINVAL / EOPNOTSUPP), never a crash; frames beyond the payload
 *   are ignored and counted (VOLTTRON 9 raises on a ninth frame).
 */
export class ExternalRpcExtension implements RouterExtension {
  readonly subsystems = ['external_rpc'] as const;
  readonly name = 'external_rpc';
  readonly #table: PlatformLinkTable;
  readonly #pending: PendingExternalCalls;
  readonly #remoteUser: (instance: string, user: Frame) => Frame;
  #services: RouterServices | undefined;
  readonly #counts = {
    sent: 0,
    delivered: 0,
    failed_fast: 0,
    failed_on_link_loss: 0,
    peer_unreachable: 0,
    refused: 0,
    invalid: 0,
    extra_frames: 0,
    not_for_this_platform: 0,
    notifications_dropped: 0,
  };

  constructor(table: PlatformLinkTable, options: ExternalRpcExtensionOptions = {}) {
    this.#table = table;
    this.#pending = new PendingExternalCalls(options.maxPendingCalls ?? 10_000);
    this.#remoteUser = options.remoteUser ?? qualifiedRemoteUser;
  }

  attach(services: RouterServices): void {
    this.#services = services;
    this.#table.onLinkMessage('external_rpc', (instance, m) => this.#fromLink(instance, m.user, m.id, m.args));
    this.#table.onDisconnected((instance) => {
      for (const call of this.#pending.takePlatform(instance)) {
        this.#counts.failed_on_link_loss++;
        this.#answerCaller(call.caller, call.vipId, instance, call.toPeer, [call.id], 'link-lost');
      }
    });
  }

  handle(m: RoutedMessage, userId: string, user: Frame): boolean {
    const services = this.#svc();
    const op = m.args[0] === undefined ? '' : frameText(m.args[0]);
    if (m.args.length > 2) this.#counts.extra_frames++;
    const linkInstance = this.#table.instanceOf(userId);
    if (linkInstance !== undefined) {
      this.#table.incomingSeen(linkInstance, m.sender);
      if (op === 'send_peer') return (this.#fromLink(linkInstance, m.user, m.id, m.args), true);
      this.#counts.refused++;
      services.replyError(
        m,
        user,
        op === 'send_platform' ? ERRNO.EACCES : EOPNOTSUPP,
        `external_rpc ${JSON.stringify(op.slice(0, 64))} is not accepted from a platform link`,
      );
      return true;
    }
    switch (op) {
      case 'send_platform':
        return (this.#sendPlatform(m, user), true);
      case 'send_peer':
        this.#counts.refused++;
        services.replyError(m, user, ERRNO.EACCES, 'Permission denied: external_rpc send_peer is accepted only from a platform link');
        return true;
      case '':
        this.#counts.invalid++;
        services.replyError(m, user, EINVAL, 'Invalid argument: external_rpc message without an operation');
        return true;
      default:
        this.#counts.invalid++;
        services.replyError(m, user, EOPNOTSUPP, `Operation not supported: external_rpc ${JSON.stringify(op.slice(0, 64))}`);
        return true;
    }
  }

  stats(): Record<string, number> {
    return { ...this.#counts, pending: this.#pending.size, pending_evicted: this.#pending.evicted };
  }

  /** A local caller's `send_platform`: to the link of `to_platform`, or an error answer at once. */
  #sendPlatform(m: RoutedMessage, user: Frame): void {
    const services = this.#svc();
    const payload = parseExternalRpcPayload(m.args[1] ?? EMPTY_FRAME);
    if (payload instanceof Error) {
      this.#counts.invalid++;
      services.replyError(m, user, EINVAL, `Invalid argument: ${payload.message}`);
      return;
    }
    const caller = frameText(m.sender);
    const target = payload.to_platform;
    const ids = requestIdsOf(payload.args);
    const out: ExternalRpcPayload = { ...payload, from_platform: this.#table.instanceName, from_peer: caller };
    if (target === this.#table.instanceName) {
      // A call to this platform by name: served here, as a link's would be.
      this.#toPeer(this.#table.instanceName, user, m.id, out);
      return;
    }
    const reachable = this.#table.knows(target) && this.#table.isConnected(target);
    const sent =
      reachable &&
      this.#table.send(target, user, m.id, EXTERNAL_RPC_FRAME, [SEND_PEER_FRAME, textFrame(pythonJson(out))], () => {
        // taken by the link, then lost: the calls still waiting fail now
        const lost = this.#pending.take(target, ids);
        this.#answerCaller(
          m.sender,
          m.id,
          target,
          payload.to_peer,
          lost.map((c) => c.id),
          'send-failed',
        );
      });
    if (!sent) {
      this.#counts.failed_fast++;
      this.#table.callFailedFast(target);
      const reason = !this.#table.knows(target) ? 'unknown' : 'disconnected';
      if (ids.length === 0) this.#counts.notifications_dropped++;
      else this.#answerCaller(m.sender, m.id, target, payload.to_peer, ids, reason);
      return;
    }
    this.#counts.sent++;
    for (const id of ids) this.#pending.add(target, id, { caller: m.sender, vipId: m.id, toPeer: payload.to_peer });
  }

  /** `send_peer` from a link (or our own link's reply): to the local peer it names. */
  #fromLink(instance: string, user: Frame, id: Frame, args: readonly Frame[]): void {
    const op = args[0] === undefined ? '' : frameText(args[0]);
    if (op !== 'send_peer') {
      this.#counts.invalid++;
      return;
    }
    const payload = parseExternalRpcPayload(args[1] ?? EMPTY_FRAME);
    if (payload instanceof Error) {
      this.#counts.invalid++;
      this.#svc().count('external_rpc: invalid payload from a link');
      return;
    }
    if (payload.to_platform !== this.#table.instanceName) {
      this.#counts.not_for_this_platform++; // no relaying through this platform
      return;
    }
    // Answers from that platform settle the calls we remembered for it.
    if (this.#pending.size > 0) this.#pending.take(instance, responseIdsOf(payload.args));
    // The usual message names its own platform: passed on as it came, not encoded again.
    const honest = payload.from_platform === instance;
    this.#toPeer(
      instance,
      this.#remoteUser(instance, user),
      id,
      honest ? payload : { ...payload, from_platform: instance },
      honest ? args[1] : undefined,
    );
  }

  #toPeer(instance: string, user: Frame, id: Frame, payload: ExternalRpcPayload, encoded?: Frame): void {
    const services = this.#svc();
    const unreachable = () => {
      const requests = requestIdsOf(payload.args);
      this.#counts.peer_unreachable++;
      if (requests.length === 0) return;
      const errors = requests.map((rid) =>
        pythonJson(
          buildError(
            rid,
            EXTERNAL_RPC_ERROR_CODES.PEER_UNREACHABLE,
            `peer ${JSON.stringify(payload.to_peer)} is not connected to platform ${JSON.stringify(this.#table.instanceName)}`,
            { platform: this.#table.instanceName, reason: 'peer-unreachable', peer: payload.to_peer },
          ),
        ),
      );
      const back: ExternalRpcPayload = {
        to_platform: instance,
        to_peer: payload.from_peer,
        from_platform: this.#table.instanceName,
        from_peer: payload.to_peer,
        args: errors,
      };
      if (instance === this.#table.instanceName) this.#toPeer(instance, EMPTY_FRAME, id, back);
      else this.#table.send(instance, EMPTY_FRAME, id, EXTERNAL_RPC_FRAME, [SEND_PEER_FRAME, textFrame(pythonJson(back))]);
    };
    if (payload.to_peer.length === 0) return unreachable();
    this.#counts.delivered++;
    void services
      .deliver(textFrame(payload.to_peer), EMPTY_FRAME, user, id, EXTERNAL_RPC_FRAME, [
        SEND_PEER_FRAME,
        encoded ?? textFrame(pythonJson(payload)),
      ])
      .then((result) => {
        if (result !== 'ok') unreachable();
      });
  }

  /** Tell a local caller its requests to `platform` failed: one JSON-RPC error each, as a `send_peer` from that platform. */
  #answerCaller(caller: Frame, vipId: Frame, platform: string, toPeer: string, ids: readonly RpcIdValue[], reason: string): void {
    if (ids.length === 0) return;
    const errors = ids.map((rid) =>
      pythonJson(
        buildError(rid, EXTERNAL_RPC_ERROR_CODES.PLATFORM_UNREACHABLE, `platform ${JSON.stringify(platform)} is unreachable (${reason})`, {
          platform,
          reason,
        }),
      ),
    );
    const back: ExternalRpcPayload = {
      to_platform: this.#table.instanceName,
      to_peer: frameText(caller),
      from_platform: platform,
      from_peer: toPeer,
      args: errors,
    };
    void this.#svc().deliver(caller, EMPTY_FRAME, EMPTY_FRAME, vipId, EXTERNAL_RPC_FRAME, [SEND_PEER_FRAME, textFrame(pythonJson(back))]);
  }

  #svc(): RouterServices {
    if (this.#services === undefined) throw new ClosedError('ExternalRpcExtension (not attached to a router)');
    return this.#services;
  }
}
