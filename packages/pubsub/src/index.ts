// Public API of @vip/pubsub: every export is listed by name.
export { PubSubService, PUBSUB_ERRORS } from './pubsub-service.js';
export type { PubSubServiceOptions } from './pubsub-service.js';
export { SubscriptionIndex } from './subscription-index.js';
export type { Subscription, SubscriptionPlatform, SubscriptionRow, PrefixCount } from './subscription-index.js';
export { ProtectedTopics } from './protected-topics.js';
export type { ExternalPlatforms } from './external-platforms.js';
export type { PubSubStats, DropReason, SubscriberDrops } from './delivery-stats.js';
export type { PubSubConfigSources } from './config-reloader.js';
export { SubscriptionStore, DEFAULT_MAX_SUBSCRIPTION_FILE_BYTES } from './subscription-store.js';
export type { SubscriptionStoreOptions, SubscriptionStoreStats } from './subscription-store.js';
export { SubscriptionFileSchema, SUBSCRIPTION_FILE_VERSION } from './subscription-file.js';
export type { SubscriptionFile, SubscriptionTable } from './subscription-file.js';
export { DEFAULT_RESTORE_GRACE_MS } from './internal/persistence.js';
export type { SubscriptionPersistenceOptions } from './internal/persistence.js';
