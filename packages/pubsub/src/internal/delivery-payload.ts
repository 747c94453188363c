import { identityKey, jsonFrame, pythonString, type Frame } from '@vip/protocol';
import { FrameCache } from './frame-cache.js';

const BUS_FIRST = Buffer.from('{"bus": ', 'latin1');

/**
 * The payload delivered to subscribers: `{"sender", "bus", "headers", "message"}` as the Python
 * router writes it (docs/protocol.md 3.3), built once per publish and shared by every subscriber's
 * delivery. Fast path: a body (`raw`, as received, already validated) that is pure ASCII, starts
 * with `{"bus": ` and holds exactly bus, headers and message in that order (what Python agents
 * and ours send) is reused after the publisher's `{"sender": "<identity>", ` head (one per
 * publisher, cached), so the result equals Python's re-serialization without rendering the
 * message again: one copy of the body per publish. Anything else is rendered with `pythonJson`.
 */
export class DeliveryPayloads {
  /** identityKey of the sender frame -> `{"sender": "<sender>", ` */
  readonly #heads = new FrameCache((key) =>
    Buffer.from(`{"sender": ${pythonString(Buffer.from(key, 'latin1').toString('utf8'))}, `, 'latin1'),
  );

  /** The delivery of a local publish by `sender` (its identity frame). */
  fromPublish(
    sender: Frame,
    body: { bus: string; headers: unknown; message: unknown },
    raw: Frame | undefined,
    keys: readonly string[] | undefined,
  ): Frame {
    if (
      raw !== undefined &&
      keys !== undefined &&
      keys.length === 3 &&
      keys[0] === 'bus' &&
      keys[1] === 'headers' &&
      keys[2] === 'message' &&
      isAsciiBusFirst(raw)
    ) {
      return Buffer.concat([this.#heads.get(identityKey(sender)), raw.subarray(1)]);
    }
    return deliveryPayload(sender.toString('utf8'), body);
  }

  clear(): void {
    this.#heads.clear();
  }
}

/** The delivery body rendered in full (external publishes, unusual local bodies). */
export function deliveryPayload(sender: string, body: { bus: string; headers: unknown; message: unknown }): Frame {
  return jsonFrame({ sender, bus: body.bus, headers: body.headers, message: body.message === undefined ? null : body.message });
}

function isAsciiBusFirst(raw: Frame): boolean {
  if (raw.length < BUS_FIRST.length + 1 || raw.compare(BUS_FIRST, 0, BUS_FIRST.length, 0, BUS_FIRST.length) !== 0) return false;
  for (let i = 0; i < raw.length; i++) if ((raw[i] as number) > 0x7e || (raw[i] as number) < 0x20) return false;
  return raw[raw.length - 1] === 0x7d; // '}'
}
