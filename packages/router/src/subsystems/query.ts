import {
  ClosedError,
  EMPTY_FRAME,
  identityKey,
  type Frame,
  type RoutedMessage,
  type RouterExtension,
  type RouterServices,
} from '@vip/protocol';
import { encodeQueryValue, type QueryValue } from '../wire-values.js';

/** Query properties: a value, or a function read at each query (docs/protocol.md 2.4). */
export type QueryProperties = Readonly<Record<string, QueryValue | (() => QueryValue)>>;

/**
 * How a router lays out a `query` answer after the empty "this is a result" argument: ZeroMQ's
 * one frame in VOLTTRON's encoding (`zmqQueryReply`), RabbitMQ's `value, ''` with the value as
 * a JSON value in the argument list (`rmqQueryReply` of @vip/rmq, docs/protocol.md 7.5).
 */
export type QueryReplyLayout = (value: QueryValue) => Frame[];

/** VOLTTRON's ZeroMQ router: str as text, int as 4 bytes, list as JSON text, None as an empty frame. */
export const zmqQueryReply: QueryReplyLayout = (value) => [encodeQueryValue(value)];

/**
 * The `query` reply args: an empty first arg ("this is a result") and the value as `layout` puts
 * it. Unknown or missing properties answer VOLTTRON's `None`.
 */
export function queryReplyArgs(properties: QueryProperties, message: RoutedMessage, layout: QueryReplyLayout = zmqQueryReply): Frame[] {
  const name = message.args[0];
  const key = name === undefined ? undefined : identityKey(name);
  if (key === undefined || !Object.hasOwn(properties, key)) return [EMPTY_FRAME, ...layout(null)];
  const entry = properties[key];
  const value = typeof entry === 'function' ? entry() : entry;
  return [EMPTY_FRAME, ...layout(value)];
}

/** `query <property>` -> `'', <value>` with an empty user (docs/protocol.md 2.4). */
export class QueryExtension implements RouterExtension {
  readonly subsystems = ['query'] as const;
  readonly #properties: QueryProperties;
  readonly #layout: QueryReplyLayout;
  #services: RouterServices | undefined;

  constructor(properties: QueryProperties = {}, layout: QueryReplyLayout = zmqQueryReply) {
    this.#properties = properties;
    this.#layout = layout;
  }

  attach(services: RouterServices): void {
    this.#services = services;
  }

  handle(m: RoutedMessage): boolean {
    const services = this.#services;
    if (services === undefined) throw new ClosedError('QueryExtension (not attached to a router)');
    void services.deliver(m.sender, EMPTY_FRAME, EMPTY_FRAME, m.id, m.subsystem, queryReplyArgs(this.#properties, m, this.#layout));
    return true;
  }
}
