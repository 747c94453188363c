import { ProtocolError, frameText, type VipMessage } from '@vip/protocol';
import type { AgentCore, RequestOptions, Subsystem } from '../subsystem.js';

export type PeerEventListener = (peer: string, messageBus: string | undefined) => void;

/**
 * `peerlist`: `list()` asks the router; `add`/`drop` broadcasts fire listeners (docs/protocol.md 2.3).
 * Only the router's broadcasts count: a peer sending `peerlist drop X` to this agent is ignored,
 * or it could fail every request this agent has pending with X.
 */
export class PeerlistSubsystem implements Subsystem {
  readonly name = 'peerlist';
  readonly #core: AgentCore;
  readonly #timeoutMs: number;
  readonly #add = new Set<PeerEventListener>();
  readonly #drop = new Set<PeerEventListener>();

  constructor(core: AgentCore, timeoutMs: number) {
    this.#core = core;
    this.#timeoutMs = timeoutMs;
  }

  /** Every identity the router knows, this agent included. */
  list(options: RequestOptions = {}): Promise<string[]> {
    return this.#core.request<string[]>(
      { peer: '', subsystem: 'peerlist', args: ['list'] },
      { timeoutMs: this.#timeoutMs, operation: 'peerlist list', ...options },
    );
  }

  onAdd(listener: PeerEventListener): () => void {
    this.#add.add(listener);
    return () => this.#add.delete(listener);
  }

  onDrop(listener: PeerEventListener): () => void {
    this.#drop.add(listener);
    return () => this.#drop.delete(listener);
  }

  handle(message: VipMessage): boolean {
    const [opFrame, ...rest] = message.args;
    const op = opFrame ? frameText(opFrame) : '';
    if (op === 'listing') {
      this.#core.settle(message.id, rest.map((f) => frameText(f)), message.peer);
      return true;
    }
    if (op === 'error') {
      this.#core.fail(message.id, new ProtocolError(`peerlist: ${rest[0] ? frameText(rest[0]) : 'error'}`), message.peer);
      return true;
    }
    if ((op !== 'add' && op !== 'drop') || !rest[0] || message.peer.length > 0) return false;
    const peer = frameText(rest[0]);
    const bus = rest[1] ? frameText(rest[1]) : undefined;
    for (const l of [...(op === 'add' ? this.#add : this.#drop)]) {
      try {
        l(peer, bus);
      } catch (err) {
        this.#core.logger.warn('peerlist.listener.failed', { op }, err);
      }
    }
    return true;
  }
}
