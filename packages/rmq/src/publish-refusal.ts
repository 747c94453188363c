import { VipError } from '@vip/protocol';

/** What RabbitMQ said when it refused a topic write (it closes the channel with 403 ACCESS_REFUSED). */
export interface TopicWriteRefusal {
  readonly routingKey: string;
  readonly exchange: string;
  readonly vhost: string;
  readonly user: string;
}

/**
 * RabbitMQ refused a publish by topic permissions (on broker pubsub: a protected topic the
 * publisher's broker user lacks the capabilities for, when the platform sets them). Same `code`
 * as the router's refusal of a protected-topic publish (`UnauthorizedWireError`), so callers
 * handle both alike; the required capabilities are not known on this side.
 */
export class TopicWriteRefusedError extends VipError {
  readonly code = 'VIP_UNAUTHORIZED';
  readonly routingKey: string;
  readonly exchange: string;
  readonly user: string;
  constructor(what: string, refusal: TopicWriteRefusal, options?: ErrorOptions) {
    super(`RabbitMQ refused ${what}: user '${refusal.user}' may not write routing key '${refusal.routingKey}' to exchange `
      + `'${refusal.exchange}' in vhost '${refusal.vhost}' (protected topic? the platform sets topic permissions from protected_topics.json and auth.json)`, options);
    this.name = 'TopicWriteRefusedError';
    this.routingKey = refusal.routingKey;
    this.exchange = refusal.exchange;
    this.user = refusal.user;
  }
}

const ACCESS_REFUSED = 403;
// RabbitMQ's reply text, kept by amqplib in the channel error: 3.10 says "access to topic", later
// versions "write access to topic". Only publishes on the confirm channel are read this way, so
// a topic refusal there is a write (read is checked on queue.bind, another channel).
const REFUSAL_TEXT = /ACCESS_REFUSED - (?:write )?access to topic '(.*)' in exchange '(.*)' in vhost '(.*)' refused for user '(.*)'/s;

/**
 * The topic-write refusal an amqplib channel error carries, or undefined for any other error.
 * The broker's reply text is the only place the refused routing key appears.
 */
export function topicWriteRefusal(err: unknown): TopicWriteRefusal | undefined {
  if (!(err instanceof Error) || (err as { code?: unknown }).code !== ACCESS_REFUSED) return undefined;
  const m = REFUSAL_TEXT.exec(err.message);
  if (!m) return undefined;
  return { routingKey: m[1] as string, exchange: m[2] as string, vhost: m[3] as string, user: m[4] as string };
}
