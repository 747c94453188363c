// Public API of @vip/rmq: every export is listed by name.
export { RmqConnection } from './rmq-connection.js';
export type { RmqConnectionOptions, RmqConnectionStats } from './rmq-connection.js';
export { RmqRouterTransport } from './rmq-router-transport.js';
export type { RmqRouterTransportOptions, RmqRouterStats } from './rmq-router-transport.js';
export { RmqPeerlistExtension, rmqRouterOptions, rmqQueryReply } from './rmq-peerlist-extension.js';
export { ensureVolttronBroker, declareVolttronTopology, probeBroker } from './broker-setup.js';
export type { BrokerSetupOptions } from './broker-setup.js';
export { RabbitMqManagement, agentPermissions } from './rabbitmq-management.js';
export type { ManagementOptions, Permissions, QueueBinding, BrokerUser } from './rabbitmq-management.js';
export { AgentPermissionCheck, permissionDecision } from './agent-permission-check.js';
export { HelloPermissionCheck } from './hello-permission-check.js';
export type { HelloPermissionCheckOptions } from './hello-permission-check.js';
export type { AgentPermissionCheckOptions, AgentPermissionStats, PermissionCheckOutcome, PermissionStore, TopicPermissionsOfUser } from './agent-permission-check.js';
export { syncTopicPermissions } from './topic-permission-sync.js';
export type { TopicPermissionStore, TopicSyncOutcome } from './topic-permission-sync.js';
export { RmqSetupError } from './rmq-errors.js';
export { publisherUserId, senderPolicyOf } from './sender-identity.js';
export {
  SpoofedSenderError, UnprovenPlatformIdentityError, judgeSender, isPlatformIdentity, platformBrokerUser, PLATFORM_IDENTITIES, agentUserOf,
} from './sender-trust.js';
export type { SenderPolicy, SenderProof, SenderTrust, SenderJudgement } from './sender-trust.js';
export { TopicWriteRefusedError, topicWriteRefusal } from './publish-refusal.js';
export type { TopicWriteRefusal } from './publish-refusal.js';
export { protectedTopicPermissions, PCRE_UTF8, plainTopicKeyPattern, regexTopicKeyPatterns, isRegexTopic, escapePcre } from './topic-permissions.js';
export type { ProtectedTopicEntry, TopicPermissions } from './topic-permissions.js';
export type { RmqSetupMissing } from './rmq-errors.js';
export {
  VOLTTRON_EXCHANGE, UNDELIVERABLE_EXCHANGE, ROUTER_IDENTITY, routingKeyFor, checkInstanceName, identityText,
  encodeArgs, decodeArgs, vipToAmqp, amqpToVip, splitRoutingKey,
} from './amqp-mapping.js';
export type { AmqpPublish, MappingContext, InboundVip, InboundLimits, AmqpMessageLike } from './amqp-mapping.js';
export { RmqLinkOptionsSchema, TlsOptionsSchema, parseRmqLinkOptions } from './rmq-options.js';
export { AgentRmqFileSchema, agentRmqFilePath, readAgentRmqFile, agentLinkFromFile } from './agent-link-file.js';
export type { AgentRmqFile } from './agent-link-file.js';
export type { RmqLinkOptions, RmqLinkOptionsInput, TlsOptions } from './rmq-options.js';
export { ReconnectPolicySchema, reconnectDelay } from './reconnect-policy.js';
export type { ReconnectPolicy, ReconnectPolicyInput } from './reconnect-policy.js';
export { RmqPubSub } from './rmq-pubsub.js';
export type { RmqPubSubOptions, RmqSubscribeOptions, RmqPubSubCallback, RmqPubSubStats, RmqSubscriptionSpec, RmqListOptions } from './rmq-pubsub.js';
export { pubsubBindingKey, prefixMatches, topicKeyMatches, countSubscribers, listSubscriptions } from './pubsub-bindings.js';
export type { PrefixMatch, PubSubListQuery } from './pubsub-bindings.js';
export {
  PUBSUB_PREFIX, TOPIC_HEADER, publishRoutingKey, subscriptionBindingKey, topicFromRoutingKey, encodePubsubPublish, decodePubsubDelivery,
} from './pubsub-mapping.js';
export type { PubSubPublish, PubSubDelivery, PubsubPublisher } from './pubsub-mapping.js';
