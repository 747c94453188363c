import { jsonFrame, pythonString, type Frame } from '@vip/protocol';

const BUS_FIRST = Buffer.from('{"bus": ', 'latin1');

/**
 * The payload delivered to subscribers: `{"sender", "bus", "headers", "message"}` as the Python
 * router writes it (PROTOCOL.md 3.3). `raw` is the publish body as received, already validated.
 * Fast path: a body that is pure ASCII, starts with `{"bus": ` and holds exactly bus, headers
 * and message in that order (what Python agents and ours send) is reused after the new
 * `"sender"` key, so the result equals Python's re-serialization without rendering the message
 * again. Anything else is rendered with `pythonJson`.
 */
export function deliveryPayload(sender: string, body: { bus: string; headers: unknown; message: unknown }, raw: Frame | undefined, keys: readonly string[] | undefined): Frame {
  if (raw !== undefined && keys !== undefined && keys.length === 3 && keys[0] === 'bus' && keys[1] === 'headers' && keys[2] === 'message' && isAsciiBusFirst(raw)) {
    const head = Buffer.from(`{"sender": ${pythonString(sender)}, `, 'latin1');
    return Buffer.concat([head, raw.subarray(1)]);
  }
  return jsonFrame({ sender, bus: body.bus, headers: body.headers, message: body.message === undefined ? null : body.message });
}

function isAsciiBusFirst(raw: Frame): boolean {
  if (raw.length < BUS_FIRST.length + 1 || raw.compare(BUS_FIRST, 0, BUS_FIRST.length, 0, BUS_FIRST.length) !== 0) return false;
  for (let i = 0; i < raw.length; i++) if ((raw[i] as number) > 0x7e || (raw[i] as number) < 0x20) return false;
  return raw[raw.length - 1] === 0x7d; // '}'
}
