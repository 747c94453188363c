// Public API of @vip/rmq/admin: broker administration through the management API (virtual
// hosts, users, permissions, topic permissions, federation), broker set-up, and the RabbitMQ
// permission policy that needs them. Every export is listed by name.
export { ensureVolttronBroker, probeBroker } from './admin/broker-setup.js';
export type { BrokerSetupOptions } from './admin/broker-setup.js';
export { declareVolttronTopology } from './transport/topology.js';
export { RabbitMqManagement, agentPermissions } from './admin/rabbitmq-management.js';
export type { ManagementOptions, Permissions, QueueBinding, BrokerUser } from './admin/rabbitmq-management.js';
export { AgentPermissionCheck, permissionDecision } from './admin/agent-permission-check.js';
export type {
  AgentPermissionCheckOptions,
  AgentPermissionStats,
  PermissionCheckOutcome,
  PermissionStore,
  TopicPermissionsOfUser,
} from './admin/agent-permission-check.js';
export { HelloPermissionCheck } from './admin/hello-permission-check.js';
export type { HelloPermissionCheckOptions } from './admin/hello-permission-check.js';
export { syncTopicPermissions } from './admin/topic-permission-sync.js';
export type { TopicPermissionStore, TopicSyncOutcome } from './admin/topic-permission-sync.js';
export {
  protectedTopicPermissions,
  PCRE_UTF8,
  plainTopicKeyPattern,
  regexTopicKeyPatterns,
  isRegexTopic,
  escapePcre,
} from './admin/topic-permissions.js';
export type { ProtectedTopicEntry, TopicPermissions } from './admin/topic-permissions.js';
export {
  FEDERATION_POLICY,
  FEDERATION_QUEUE_EXPIRES_MS,
  FederationConfigSchema,
  ShovelConfigSchema,
  parseFederationConfig,
  parseShovelConfig,
  federationUpstreams,
  federationPolicy,
  shovelSpecs,
  remoteUri,
  redactUri,
} from './admin/platform-links.js';
export type { FederationConfig, ShovelConfig, UpstreamSpec, ShovelSpec, ShovelValue } from './admin/platform-links.js';
export {
  applyFederation,
  removeFederationUpstream,
  applyShovels,
  removeShovel,
  federationStatus,
  shovelStatus,
} from './admin/platform-link-admin.js';
export type { AppliedLink, LinkChange, LinkStatus } from './admin/platform-link-admin.js';
