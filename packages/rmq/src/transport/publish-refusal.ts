import { UnauthorizedError } from '@vip/protocol';

/** What RabbitMQ said when it refused a topic write (it closes the channel with 403 ACCESS_REFUSED). */
export interface TopicWriteRefusal {
  readonly routingKey: string;
  readonly exchange: string;
  readonly vhost: string;
  readonly user: string;
}

/**
 * RabbitMQ refused a publish by topic permissions (on broker pubsub: a protected topic the
 * publisher's broker user lacks the capabilities for, when the platform sets them). The protocol's
 * UnauthorizedError (the router's refusal of a protected-topic publish on the other path), so
 * callers handle both alike, plus what only the broker says: the routing key, exchange and vhost
 * it refused (a subclass for those fields; `user` is the broker user). The required capabilities
 * are not known on this side, and nothing travels as a VIP error: the broker closed the channel.
 */
export class TopicWriteRefusedError extends UnauthorizedError {
  readonly routingKey: string;
  readonly exchange: string;
  readonly vhost: string;
  constructor(what: string, refusal: TopicWriteRefusal, options?: ErrorOptions) {
    super(
      `RabbitMQ refused ${what}: user '${refusal.user}' may not write routing key '${refusal.routingKey}' to exchange ` +
        `'${refusal.exchange}' in vhost '${refusal.vhost}' (protected topic? the platform sets topic permissions from protected_topics.json and auth.json)`,
      { ...options, subsystem: 'pubsub', user: refusal.user },
    );
    this.name = 'TopicWriteRefusedError';
    this.routingKey = refusal.routingKey;
    this.exchange = refusal.exchange;
    this.vhost = refusal.vhost;
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
