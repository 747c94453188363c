import { frameText, type Frame, type VipMessage } from '@vip/protocol';
import { replyTo } from '../frames.js';
import type { AgentCore, RequestOptions, Subsystem } from '../subsystem.js';

/**
 * `ping`: `ping(peer)` sends `ping, data...` to the router (peer '') or to a peer and resolves
 * with the echoed data; pings addressed to this agent are answered `pong, data...`
 * (docs/protocol.md 2.2; unlike Python's client we really ping the peer, 12.18).
 */
export class PingSubsystem implements Subsystem {
  readonly name = 'ping';
  readonly #core: AgentCore;
  readonly #timeoutMs: number;

  constructor(core: AgentCore, timeoutMs: number) {
    this.#core = core;
    this.#timeoutMs = timeoutMs;
  }

  /** Round trip to `peer` ('' = router); resolves with the echoed data frames as text. */
  async ping(peer = '', data: readonly (string | Frame)[] = [], options: RequestOptions = {}): Promise<string[]> {
    const reply = await this.#core.request<VipMessage>(
      { peer, subsystem: 'ping', args: ['ping', ...data] },
      { timeoutMs: this.#timeoutMs, operation: `ping ${peer === '' ? 'the router' : JSON.stringify(peer)}`, ...options },
    );
    return reply.args.slice(1).map((f) => frameText(f));
  }

  handle(message: VipMessage): boolean {
    const op = message.args[0] ? frameText(message.args[0]) : '';
    if (op === 'pong') {
      this.#core.settle(message.id, message, message.peer);
      return true;
    }
    if (op !== 'ping') return false;
    const reply = replyTo(message, 'ping', ['pong', ...message.args.slice(1)]);
    this.#core.send(reply).catch((err: unknown) => this.#core.logger.debug('ping.reply.failed', {}, err));
    return true;
  }
}
