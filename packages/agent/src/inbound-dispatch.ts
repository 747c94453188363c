import { errorFromArgs, identityKey, WireError, type Logger, type VipMessage } from '@vip/protocol';
import type { AgentStats } from './agent-stats.js';
import type { KnownNames } from './frames.js';
import type { PendingRequests } from './pending-requests.js';
import type { AgentCore, Subsystem } from './subsystem.js';

export interface InboundDispatchDeps {
  readonly core: AgentCore;
  /** The agent's subsystems by name (the live map: later `use` calls are seen). */
  readonly subsystems: ReadonlyMap<string, Subsystem>;
  readonly names: KnownNames;
  readonly pending: PendingRequests;
  readonly stats: AgentStats;
  readonly logger: Logger;
}

/**
 * Where every inbound message of an agent goes: to the subsystem its frame names; VIP `error`s
 * to the request they fail and to their subsystem; an unknown subsystem from a peer answered with
 * error 93. Nothing it cannot use vanishes: ignored operations, handler failures, unknown
 * subsystems and malformed errors are counted in the agent's stats.
 */
export class InboundDispatch {
  readonly #d: InboundDispatchDeps;

  constructor(deps: InboundDispatchDeps) {
    this.#d = deps;
  }

  dispatch(message: VipMessage): void {
    const { stats, names, subsystems, logger, core } = this.#d;
    stats.messageIn();
    const name = names.text(message.subsystem);
    if (name === 'error') {
      this.#error(message);
      return;
    }
    const s = subsystems.get(name);
    if (s?.handle) {
      try {
        if (s.handle(message) === false) stats.count('messages.ignored');
      } catch (err) {
        stats.count('messages.rejected');
        logger.warn('agent.message.rejected', { subsystem: name }, err);
      }
      return;
    }
    stats.count('messages.unknown_subsystem');
    if (message.peer.length === 0) return; // never answer the router with an error
    // VOLTTRON agents send 3 args here (docs/protocol.md 12.8); we add the peer slot so Python callers
    // raise UnknownSubsystem instead of logging "unhandled VIP error".
    core
      .send({
        peer: message.peer,
        id: message.id,
        subsystem: 'error',
        args: ['93', 'Protocol not supported', core.identity, message.subsystem],
      })
      .catch((err: unknown) => logger.debug('agent.error93.failed', {}, err));
  }

  #error(message: VipMessage): void {
    const { stats, logger, pending, subsystems } = this.#d;
    const error = errorFromArgs(message.args, message.peer);
    if (!(error instanceof WireError)) {
      stats.count('errors.malformed');
      logger.warn('agent.error.malformed', { reason: error.detail });
      return;
    }
    stats.count('errors.in');
    // The router may fail any request (delivery errors); a peer only the ones sent to it.
    if (pending.reject(identityKey(message.id), error, identityKey(message.peer)) === 'wrong-peer') stats.count('replies.wrong_peer');
    subsystems.get(error.subsystem)?.handleError?.(error, message);
  }
}
