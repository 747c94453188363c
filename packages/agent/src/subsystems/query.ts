import { frameText, type Frame, type VipMessage } from '@vip/protocol';
import type { AgentCore, RequestOptions, Subsystem } from '../subsystem.js';

export type QueryValue = string | number | boolean | null | readonly unknown[] | Readonly<Record<string, unknown>>;

/** `query`: ask the router for a property (`serverkey`, `addresses`, `platform-version`...). */
export class QuerySubsystem implements Subsystem {
  readonly name = 'query';
  readonly #core: AgentCore;
  readonly #timeoutMs: number;

  constructor(core: AgentCore, timeoutMs: number) {
    this.#core = core;
    this.#timeoutMs = timeoutMs;
  }

  /** The property's value; `null` when the router does not know it (empty frame). */
  async query(property: string, options: RequestOptions = {}): Promise<QueryValue> {
    const frame = await this.#core.request<Frame>(
      { peer: '', subsystem: 'query', args: [property] },
      { timeoutMs: this.#timeoutMs, operation: `query ${JSON.stringify(property)}`, ...options },
    );
    return decodeQueryValue(frame);
  }

  handle(message: VipMessage): boolean {
    // Replies have an empty first arg; agents ignore query requests (docs/protocol.md 2.4).
    if (message.args.length === 0 || (message.args[0] as Frame).length !== 0) return false;
    this.#core.settle(message.id, message.args[1] ?? Buffer.alloc(0), message.peer);
    return true;
  }
}

/**
 * A query value as VOLTTRON encodes it (docs/protocol.md 1.4): empty = None, one byte 0/1 = bool,
 * 4 non-text bytes = little-endian uint32, JSON text = its value, anything else = text.
 */
export function decodeQueryValue(frame: Frame): QueryValue {
  if (frame.length === 0) return null;
  const printable = frame.every((b) => b >= 0x20 || b === 0x09 || b === 0x0a || b === 0x0d);
  if (!printable) {
    if (frame.length === 1 && (frame[0] === 0 || frame[0] === 1)) return frame[0] === 1;
    if (frame.length === 4) return frame.readUInt32LE(0);
  }
  const text = frameText(frame);
  try {
    const v: unknown = JSON.parse(text);
    if (v === null || ['string', 'number', 'boolean', 'object'].includes(typeof v)) return v as QueryValue;
  } catch {
    // not JSON: plain text such as a server key or a version
  }
  return text;
}
