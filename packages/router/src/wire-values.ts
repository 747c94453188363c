import { EMPTY_FRAME, encodeCountFrame, jsonFrame, textFrame, type Frame } from '@vip/protocol';

/** A value the `query` subsystem can answer with (docs/protocol.md 2.4). */
export type QueryValue = string | number | readonly string[] | null | undefined;

/** Encode a query result as the VOLTTRON router does: str as text, int as 4-byte LE, list as Python JSON, None empty. */
export function encodeQueryValue(value: QueryValue): Frame {
  if (value === null || value === undefined) return EMPTY_FRAME;
  if (typeof value === 'number') return encodeCountFrame(value);
  if (typeof value === 'string') return textFrame(value);
  return jsonFrame(value);
}
