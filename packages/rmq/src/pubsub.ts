// Public API of @vip/rmq/pubsub: VOLTTRON's broker pubsub (docs/protocol.md 7.6) over the
// transport of @vip/rmq. Every export is listed by name.
export { RmqPubSub } from './pubsub/rmq-pubsub.js';
export type {
  RmqPubSubOptions,
  RmqSubscribeOptions,
  RmqPubSubCallback,
  RmqPubSubStats,
  RmqSubscriptionSpec,
  RmqListOptions,
} from './pubsub/rmq-pubsub.js';
export { pubsubBindingKey, prefixMatches, topicKeyMatches, countSubscribers, listSubscriptions } from './pubsub/pubsub-bindings.js';
export type { PrefixMatch, PubSubListQuery } from './pubsub/pubsub-bindings.js';
export {
  PUBSUB_PREFIX,
  TOPIC_HEADER,
  publishRoutingKey,
  subscriptionBindingKey,
  topicFromRoutingKey,
  encodePubsubPublish,
  decodePubsubDelivery,
} from './pubsub/pubsub-mapping.js';
export type { PubSubPublish, PubSubDelivery, PubsubPublisher } from './pubsub/pubsub-mapping.js';
