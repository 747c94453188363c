import { InvalidPayloadError } from '@vip/protocol';
import { z } from 'zod';
import { JSON_CONTENT_TYPE, routingKeyFor, VIP_PROTO, VOLTTRON_EXCHANGE, type AmqpPublish } from '../transport/amqp-mapping.js';
import {
  assertedPolicy,
  isPlatformIdentity,
  judgeSender,
  SpoofedSenderError,
  type SenderJudgement,
  type SenderPolicy,
} from '../transport/sender-trust.js';

/**
 * VOLTTRON's RabbitMQ pubsub wire format (docs/protocol.md 7.6), pure. A topic `a/b/c` of instance
 * `v1` travels with routing key `__pubsub__.v1.a.b.c.#` (publishes carry the literal `#` word
 * too); a subscription to prefix `a/b` binds `__pubsub__.v1.a.b.#`, so matching is per topic
 * segment (unlike ZMQ's character prefix) and a `.` inside a topic arrives as `/`.
 */
export const PUBSUB_PREFIX = '__pubsub__';
const COMPAT_HEADERS = { min_compatible_version: '5.0', max_compatible_version: '' } as const;

function topicWords(topic: string): string {
  return topic.split('/').join('.');
}

/** Routing key of a publish on `topic` from `instance`. */
export function publishRoutingKey(instance: string, topic: string): string {
  return topic === '' ? `${PUBSUB_PREFIX}.${instance}.#` : `${PUBSUB_PREFIX}.${instance}.${topicWords(topic)}.#`;
}

/** Binding key of a subscription to `prefix`; `allPlatforms` matches every instance (`*`). */
export function subscriptionBindingKey(instance: string, prefix: string, allPlatforms = false): string {
  const inst = allPlatforms ? '*' : instance;
  return prefix === '' ? `${PUBSUB_PREFIX}.${inst}.#` : `${PUBSUB_PREFIX}.${inst}.${topicWords(prefix)}.#`;
}

/** The topic of a delivered routing key: drop `__pubsub__`, the instance and the trailing `#`, join with `/`. */
export function topicFromRoutingKey(key: string): { readonly instance: string; readonly topic: string } | undefined {
  const words = key.split('.');
  if (words.length < 3 || words[0] !== PUBSUB_PREFIX) return undefined;
  const rest = words.slice(2);
  if (rest[rest.length - 1] === '#') rest.pop();
  return { instance: words[1] as string, topic: rest.join('/') };
}

export interface PubSubPublish {
  readonly topic: string;
  readonly bus?: string;
  readonly headers?: Readonly<Record<string, unknown>>;
  readonly message?: unknown;
}

/**
 * AMQP header carrying a topic the routing key cannot (one with a `.`, which becomes a word
 * separator): our receivers read the exact topic from it when it agrees with the routing key;
 * Python receivers ignore it and see `/` for `.` as usual. Absent for every other topic.
 */
export const TOPIC_HEADER = 'x-vip-topic';

/**
 * Publish parameters for a VOLTTRON RMQ pubsub message from `identity` of `instance`. `user`: the
 * `user` header (default the identity, as VOLTTRON); the proxy router writes its hosted peer's
 * proven user `<instance>.<user>` there, believed only from its broker user (`proxied`).
 */
export function encodePubsubPublish(instance: string, identity: string, p: PubSubPublish, messageId: string, user?: string): AmqpPublish {
  const body = { sender: identity, bus: p.bus ?? '', headers: { ...p.headers, ...COMPAT_HEADERS }, message: p.message ?? null };
  const headers = {
    recipient: '',
    proto: VIP_PROTO,
    user: user ?? identity,
    ...(p.topic.includes('.') ? { [TOPIC_HEADER]: p.topic } : {}),
  };
  return {
    exchange: VOLTTRON_EXCHANGE,
    routingKey: publishRoutingKey(instance, p.topic),
    content: Buffer.from(JSON.stringify(body), 'utf8'),
    properties: {
      appId: routingKeyFor(instance, identity),
      messageId,
      type: 'pubsub',
      contentType: JSON_CONTENT_TYPE,
      headers,
    },
  };
}

const PubsubBodySchema = z.object({
  sender: z.string(),
  bus: z.string().default(''),
  headers: z.record(z.string(), z.unknown()).default({}),
  message: z.unknown(),
});

/** One pubsub message as a subscriber gets it. */
export interface PubSubDelivery {
  readonly sender: string;
  /**
   * The publisher's user as far as the receiver believes it (with a `publisher` to judge): the
   * broker user its user_id proves (`<instance>.<identity>`), a legacy peer's own, the proxy's word
   * for a ZeroMQ peer (`<instance>.<its proven user>`); '' when nothing is proven. Without a
   * publisher to judge: the `user` header as written.
   */
  readonly user: string;
  readonly bus: string;
  readonly topic: string;
  readonly instance: string;
  readonly headers: Readonly<Record<string, unknown>>;
  readonly message: unknown;
}

/**
 * Who published a delivery, for the sender check: the receiver's `instance` (or its `policy`,
 * sender-trust.ts), the AMQP `app_id` and `user_id`.
 */
export interface PubsubPublisher {
  readonly instance: string;
  readonly policy?: SenderPolicy;
  readonly appId?: unknown;
  readonly userId?: unknown;
}

/**
 * Read a delivered pubsub message (`headers`: its AMQP headers); an InvalidPayloadError for
 * anything that is not one, and for a body above `maxBytes` (the receiver's maxMessageBytes).
 * With `publisher`: a proving user_id (judgeSender) requires app_id and body sender to be what it
 * proves, else SpoofedSenderError; where proof is required, a platform identity (app_id or body
 * sender) without it is refused too. Other unproven publishes (Python agents) are delivered.
 */
export function decodePubsubDelivery(
  routingKey: string,
  content: Buffer,
  headers?: Readonly<Record<string, unknown>>,
  maxBytes?: number,
  publisher?: PubsubPublisher,
): PubSubDelivery | InvalidPayloadError {
  if (maxBytes !== undefined && content.length > maxBytes) {
    return new InvalidPayloadError('RMQ pubsub message', `body of ${content.length} bytes exceeds maxMessageBytes (${maxBytes})`);
  }
  const where = topicFromRoutingKey(routingKey);
  if (!where)
    return new InvalidPayloadError('RMQ pubsub message', `routing key ${JSON.stringify(routingKey)} is not __pubsub__.<instance>.<topic>`);
  let raw: unknown;
  try {
    raw = JSON.parse(content.toString('utf8'));
  } catch (err) {
    return new InvalidPayloadError('RMQ pubsub message', `body is not JSON (${(err as Error).message})`);
  }
  const r = PubsubBodySchema.safeParse(raw);
  if (!r.success) {
    return new InvalidPayloadError(
      'RMQ pubsub message',
      r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '),
    );
  }
  const header = typeof headers?.user === 'string' ? headers.user : '';
  const judged = publisher ? checkPublisher(publisher, r.data.sender) : undefined;
  if (judged instanceof SpoofedSenderError) return judged;
  const exact = headers?.[TOPIC_HEADER];
  const topic = typeof exact === 'string' && publishRoutingKey(where.instance, exact) === routingKey ? exact : where.topic;
  return {
    sender: r.data.sender,
    user: judged === undefined ? header : believedUser(judged, header, publisher?.policy?.instance ?? publisher?.instance ?? ''),
    bus: r.data.bus,
    headers: r.data.headers,
    message: r.data.message,
    topic,
    instance: where.instance,
  };
}

/** The publisher's user a judgement allows: what the bus proved, the proxy's header for its peer, nothing unproven. */
function believedUser(judged: SenderJudgement, header: string, instance: string): string {
  switch (judged.trust) {
    case 'proxied':
      return header.startsWith(`${instance}.`) ? header : '';
    case 'asserted':
      return header;
    default:
      return judged.user ?? '';
  }
}

/**
 * How far a pubsub publish's sender is believed (judgeSender), or the SpoofedSenderError of one whose
 * app_id or body `sender` is not what may be believed.
 */
function checkPublisher(publisher: PubsubPublisher, sender: string): SenderJudgement | SpoofedSenderError {
  const policy = publisher.policy ?? assertedPolicy(publisher.instance);
  const claimed = `${policy.instance}.${sender}`;
  const appId = typeof publisher.appId === 'string' && publisher.appId.includes('.') ? publisher.appId : claimed;
  const judged = judgeSender(publisher.userId, appId, policy, 'RMQ pubsub sender');
  if (judged instanceof SpoofedSenderError) return judged;
  if ((judged.trust === 'proven' || judged.trust === 'proxied') && (publisher.appId !== appId || claimed !== appId)) {
    return new SpoofedSenderError(
      'RMQ pubsub sender',
      String(publisher.userId),
      publisher.appId === appId ? claimed : String(publisher.appId),
    );
  }
  if (judged.trust !== 'proven' && policy.proof === 'required' && isPlatformIdentity(sender)) {
    return new SpoofedSenderError(
      'RMQ pubsub sender',
      typeof publisher.userId === 'string' ? publisher.userId : '',
      claimed,
      `body sender ${JSON.stringify(sender)} is the platform's, without its user_id`,
    );
  }
  return judged;
}
