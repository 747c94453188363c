// Public API of @vip/rmq, the transport: every export is listed by name. Broker pubsub is
// @vip/rmq/pubsub, broker administration (management API, permissions, set-up) @vip/rmq/admin;
// neither is loaded by this entry (src/entry-points.test.ts).
export { RmqConnection } from './transport/rmq-connection.js';
export type { RmqConnectionOptions, RmqConnectionStats } from './transport/rmq-connection.js';
export { RmqRouterTransport } from './transport/rmq-router-transport.js';
export type { RmqRouterTransportOptions, RmqRouterStats } from './transport/rmq-router-transport.js';
export { RmqPeerlistExtension, rmqRouterOptions, rmqQueryReply } from './transport/rmq-peerlist-extension.js';
export type { ManagementOptions } from './transport/management-reads.js';
export { RmqSetupError } from './transport/rmq-errors.js';
export type { RmqSetupMissing } from './transport/rmq-errors.js';
export { publisherUserId, senderPolicyOf } from './transport/sender-identity.js';
export {
  SpoofedSenderError,
  UnprovenPlatformIdentityError,
  judgeSender,
  isPlatformIdentity,
  platformBrokerUser,
  proxyBrokerUser,
  PROXY_IDENTITY,
  PLATFORM_IDENTITIES,
  agentUserOf,
} from './transport/sender-trust.js';
export type { SenderPolicy, SenderProof, SenderTrust, SenderJudgement } from './transport/sender-trust.js';
export { TopicWriteRefusedError, topicWriteRefusal } from './transport/publish-refusal.js';
export type { TopicWriteRefusal } from './transport/publish-refusal.js';
export {
  VOLTTRON_EXCHANGE,
  UNDELIVERABLE_EXCHANGE,
  ROUTER_IDENTITY,
  routingKeyFor,
  checkInstanceName,
  identityText,
  encodeArgs,
  decodeArgs,
  vipToAmqp,
  amqpToVip,
  splitRoutingKey,
} from './transport/amqp-mapping.js';
export type { AmqpPublish, MappingContext, InboundVip, InboundLimits, AmqpMessageLike } from './transport/amqp-mapping.js';
export { RmqLinkOptionsSchema, TlsOptionsSchema, parseRmqLinkOptions } from './transport/rmq-options.js';
export { AgentRmqFileSchema, agentRmqFilePath, readAgentRmqFile, agentLinkFromFile } from './transport/agent-link-file.js';
export type { AgentRmqFile } from './transport/agent-link-file.js';
export type { RmqLinkOptions, RmqLinkOptionsInput, TlsOptions } from './transport/rmq-options.js';
export { ReconnectPolicySchema, reconnectDelay } from './transport/reconnect-policy.js';
export type { ReconnectPolicy, ReconnectPolicyInput } from './transport/reconnect-policy.js';
export { PROXY_OUTBOUND_IDENTITY, viaProxyPublish, readProxyFrames } from './transport/proxy-frames.js';
export type { ProxyFrames } from './transport/proxy-frames.js';
