import {
  EMPTY_FRAME,
  frameText,
  parseExternalRpcPayload,
  pythonJson,
  type ExternalRpcPayload,
  type Frame,
  type VipMessage,
} from '@vip/protocol';
import type { AgentCore, Subsystem } from '../subsystem.js';

/** What the external side needs of the RPC subsystem. */
export interface ExternalRpcServer {
  /**
   * One JSON-RPC text from `peer` on `platform`: an answer to one of our calls settles it; a
   * request (notification, batch) is served as from `peer` with `user`, its answer text returned.
   */
  serveExternal(text: string, platform: string, peer: string, user: Frame): string | undefined | Promise<string | undefined>;
}

/**
 * The agent's `external_rpc` subsystem (docs/protocol.md 6.3): calls to peers on other platforms
 * go to this platform's router as `send_platform`; what the router hands over as `send_peer` is
 * either a request from another platform (served by the RPC subsystem, answered with
 * `send_platform` back to the caller's platform) or an answer to one of our calls. Only the router
 * (empty peer frame) is heard: the platform link proved where it came from.
 */
export class ExternalRpcSubsystem implements Subsystem {
  readonly name = 'external_rpc';
  readonly #core: AgentCore;
  readonly #server: ExternalRpcServer;
  #rejected = 0;

  constructor(core: AgentCore, server: ExternalRpcServer) {
    this.#core = core;
    this.#server = server;
  }

  get rejected(): number {
    return this.#rejected;
  }

  /** Send JSON-RPC texts to `peer` on `platform` (`send_platform`), message id `id`. */
  send(platform: string, peer: string, texts: readonly string[], id: string | Frame = EMPTY_FRAME): Promise<void> {
    const payload: ExternalRpcPayload = { to_platform: platform, to_peer: peer, from_platform: '', from_peer: '', args: [...texts] };
    return this.#core.send({ peer: '', id, subsystem: 'external_rpc', args: ['send_platform', pythonJson(payload)] });
  }

  handle(message: VipMessage): boolean {
    if (message.peer.length > 0) {
      this.#rejected++; // only the router hands over external calls
      return false;
    }
    const op = message.args[0] === undefined ? '' : frameText(message.args[0]);
    const payload = op === 'send_peer' ? parseExternalRpcPayload(message.args[1] ?? EMPTY_FRAME) : undefined;
    if (payload === undefined || payload instanceof Error) {
      this.#rejected++;
      return false;
    }
    const answers: (string | undefined | Promise<string | undefined>)[] = [];
    for (const text of payload.args) {
      const answer = this.#server.serveExternal(text, payload.from_platform, payload.from_peer, message.user);
      if (answer !== undefined) answers.push(answer);
    }
    if (answers.length === 0) return true;
    void Promise.all(answers)
      .then((texts) => {
        const args = texts.filter((t): t is string => t !== undefined);
        if (args.length === 0) return;
        const back: ExternalRpcPayload = {
          to_platform: payload.from_platform,
          to_peer: payload.from_peer,
          from_platform: payload.to_platform,
          from_peer: payload.to_peer,
          args,
        };
        return this.#core.send({ peer: '', id: message.id, subsystem: 'external_rpc', args: ['send_platform', pythonJson(back)] });
      })
      .catch((err: unknown) => this.#core.logger.warn('rpc.external.serve_failed', {}, err));
    return true;
  }
}
