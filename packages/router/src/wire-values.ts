import { ERRNO_MESSAGES, EMPTY_FRAME, textFrame, type Frame } from '@vip/protocol';

// Local encoders for the few router-made values. TODO(protocol): switch to @vip/protocol's
// frame-values (encodeCountFrame, pythonJson) and wire-errors (errorArgs) once they land.

/** A value the `query` subsystem can answer with (PROTOCOL.md 2.4). */
export type QueryValue = string | number | readonly string[] | null | undefined;

/** An unsigned 32-bit little-endian integer frame, as VOLTTRON's `struct 'I'` writes it. */
export function uint32Frame(n: number): Frame {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
}

/** Python `json.dumps` of a list of strings: `", "` separators, non-ASCII escaped. */
export function pythonJsonStrings(items: readonly string[]): string {
  const escape = (s: string) => JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `[${items.map(escape).join(', ')}]`;
}

/** Encode a query result the way the VOLTTRON router does: str as text, int as 4 bytes, list as JSON, None empty. */
export function encodeQueryValue(value: QueryValue): Frame {
  if (value === null || value === undefined) return EMPTY_FRAME;
  if (typeof value === 'number') return uint32Frame(value);
  if (typeof value === 'string') return textFrame(value);
  return textFrame(pythonJsonStrings(value));
}

/** The args of a VIP `error` message: errno, strerror text, recipient, subsystem (PROTOCOL.md 1.8). */
export function errorArgs(errnum: number, recipient: Frame, subsystem: Frame): Frame[] {
  return [textFrame(String(errnum)), textFrame(ERRNO_MESSAGES[errnum] ?? `errno ${errnum}`), recipient, subsystem];
}
