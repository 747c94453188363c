import { ClosedError, EMPTY_FRAME, identityKey, type Frame, type RoutedMessage, type RouterExtension, type RouterServices } from '@vip/protocol';
import { encodeQueryValue, type QueryValue } from '../wire-values.js';

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

/** `query <property>` -> `'', <value>` with an empty user (docs/protocol.md 2.4). */
export class QueryExtension implements RouterExtension {
  readonly subsystems = ['query'] as const;
  readonly #properties: QueryProperties;
  #services: RouterServices | undefined;

  constructor(properties: QueryProperties = {}) {
    this.#properties = properties;
  }

  attach(services: RouterServices): void {
    this.#services = services;
  }

  handle(m: RoutedMessage): boolean {
    const services = this.#services;
    if (services === undefined) throw new ClosedError('QueryExtension (not attached to a router)');
    void services.deliver(m.sender, EMPTY_FRAME, EMPTY_FRAME, m.id, m.subsystem, queryReplyArgs(this.#properties, m));
    return true;
  }
}
