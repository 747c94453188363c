import { ProtocolError, frameText, type VipMessage } from '@vip/protocol';
import { z } from 'zod';
import type { AgentCore, RequestOptions, Subsystem } from '../subsystem.js';

const BusTableSchema = z.record(z.string(), z.string());

function parseJson(frame: Uint8Array | undefined): unknown {
  if (frame === undefined) return undefined;
  try {
    return JSON.parse(Buffer.from(frame).toString('utf8'));
  } catch {
    return undefined;
  }
}

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

  /**
   * Every identity the router knows with its message bus (`rmq` or `zmq` for the ZeroMQ peers a
   * RabbitMQ platform's proxy router hosts): RabbitMQ routers only (docs/protocol.md 7.5).
   */
  listWithMessagebus(options: RequestOptions = {}): Promise<Record<string, string>> {
    return this.#core.request<Record<string, string>>(
      { peer: '', subsystem: 'peerlist', args: ['list_with_messagebus'] },
      { timeoutMs: this.#timeoutMs, operation: 'peerlist list_with_messagebus', ...options },
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
      this.#core.settle(
        message.id,
        rest.map((f) => frameText(f)),
        message.peer,
      );
      return true;
    }
    if (op === 'listing_with_messagebus') {
      const table = BusTableSchema.safeParse(parseJson(rest[0]));
      if (table.success) this.#core.settle(message.id, table.data, message.peer);
      else this.#core.fail(message.id, new ProtocolError('peerlist: listing_with_messagebus is not a JSON object of buses'), message.peer);
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
