import { EMPTY_FRAME, identityKey, type Frame, type RoutedMessage } from '@vip/protocol';
import { encodeQueryValue, type QueryValue } from './wire-values.js';

/** Query properties: a value, or a function read at each query (docs/protocol.md 2.4). */
export type QueryProperties = Readonly<Record<string, QueryValue | (() => QueryValue)>>;

/**
 * The `query` reply args: an empty first arg ("this is a result") and the encoded value.
 * Unknown or missing properties answer an empty frame, as VOLTTRON's `None`.
 */
export function queryReplyArgs(properties: QueryProperties, message: RoutedMessage): Frame[] {
  const name = message.args[0];
  if (name === undefined) return [EMPTY_FRAME, EMPTY_FRAME];
  const key = identityKey(name);
  if (!Object.hasOwn(properties, key)) return [EMPTY_FRAME, EMPTY_FRAME];
  const entry = properties[key];
  const value = typeof entry === 'function' ? entry() : entry;
  return [EMPTY_FRAME, encodeQueryValue(value)];
}
