import { frameText, type VipMessage } from '@vip/protocol';
import { replyTo } from '../frames.js';
import type { AgentCore, Subsystem } from '../subsystem.js';

/**
 * `hello`: welcomes from the router complete the handshake (the agent matches the id);
 * hellos from peers are answered `welcome, 1.0, <own identity>, <requester>` (docs/protocol.md 2.1).
 */
export class HelloSubsystem implements Subsystem {
  readonly name = 'hello';
  readonly #core: AgentCore;
  readonly #onWelcome: (message: VipMessage) => void;

  constructor(core: AgentCore, onWelcome: (message: VipMessage) => void) {
    this.#core = core;
    this.#onWelcome = onWelcome;
  }

  handle(message: VipMessage): boolean {
    const op = message.args[0] ? frameText(message.args[0]) : '';
    if (op === 'welcome' && message.args.length > 3) {
      if (message.peer.length === 0) this.#onWelcome(message);
      else this.#core.settle(message.id, message, message.peer); // a peer answering our hello request
      return true;
    }
    if (op === 'hello' && message.peer.length > 0) {
      const reply = replyTo(message, 'hello', ['welcome', '1.0', this.#core.identity, message.peer]);
      this.#core.send(reply).catch((err: unknown) => this.#core.logger.debug('hello.reply.failed', {}, err));
      return true;
    }
    return false;
  }
}
