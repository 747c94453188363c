// Public API of @vip/pubsub: every export is listed by name.
export { PubSubService, PUBSUB_ERRORS } from './pubsub-service.js';
export type { PubSubServiceOptions } from './pubsub-service.js';
export { SubscriptionIndex } from './subscription-index.js';
export type { Subscription, SubscriptionPlatform, SubscriptionRow } from './subscription-index.js';
export { ProtectedTopics } from './protected-topics.js';
export type { Capabilities, CapabilityMap } from './protected-topics.js';
export { UnauthorizedPublishError, UNAUTHORIZED_ERRNUM } from './errors.js';
export type { ExternalPlatforms } from './external-platforms.js';
export type { PubSubStats, DropReason, SubscriberDrops } from './delivery-stats.js';
export type { PubSubConfigSources } from './config-reloader.js';
