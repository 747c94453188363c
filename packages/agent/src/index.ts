// Public API of @vip/agent: every export is listed by name. Transport-neutral (no zeromq, no amqplib).
export { Agent, DEFAULT_HELLO_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS } from './agent.js';
export type { AgentOptions, AgentEvent } from './agent.js';
export type {
  AgentCore,
  Subsystem,
  SubsystemFactory,
  OutgoingMessage,
  RequestOptions,
  ExpectOptions,
  AgentPublisher,
} from './subsystem.js';
export type { OperationName } from './pending-requests.js';
export {
  HelloTimeoutError,
  RpcError,
  MethodNotFoundError,
  RemoteError,
  RpcException,
  PublishNotConfirmedError,
  PublishQueueFullError,
  NotStartedError,
} from './errors.js';
/** A refused capability check, over RPC or pubsub: @vip/protocol's one unauthorized error. */
export { UnauthorizedError, UNAUTHORIZED_EXC_TYPE } from '@vip/protocol';
export { toFrame, replyTo } from './frames.js';
export { PingSubsystem } from './subsystems/ping.js';
export { PeerlistSubsystem } from './subsystems/peerlist.js';
export type { PeerEventListener } from './subsystems/peerlist.js';
export { QuerySubsystem, decodeQueryValue } from './subsystems/query.js';
export type { QueryValue } from './subsystems/query.js';
export { HealthSubsystem, STATUS_VALUES } from './subsystems/health.js';
export type { HealthStatus, HealthStatusValue } from './subsystems/health.js';
export { HeartbeatSubsystem } from './subsystems/heartbeat.js';
export { ConfigSubsystem, ConfigNotInStoreError, CONFIG_ACTIONS, CONFIG_STORE_PEER } from './subsystems/config.js';
export type { ConfigCallback, ConfigCallbackAction, ConfigSubscribeOptions, ConfigChangeOptions } from './subsystems/config.js';
export { AuthSubsystem, MODIFY_RPC_METHOD_ALLOWANCE } from './subsystems/auth.js';
export type { AuthSubsystemOptions } from './subsystems/auth.js';
export { Channel, ChannelSubsystem, DEFAULT_CHANNEL_BUFFER_BYTES } from './subsystems/channel.js';
export type { ChannelStats } from './subsystems/channel.js';
export type { HeartbeatOptions } from './subsystems/heartbeat.js';
export { PubSubSubsystem } from './pubsub/pubsub-subsystem.js';
export type {
  PubSubCallback,
  PubSubPlatform,
  SubscribeOptions,
  UnsubscribeOptions,
  PublishOptions,
  ListOptions,
  ListRow,
  PubSubSubsystemOptions,
} from './pubsub/pubsub-subsystem.js';
export { RpcSubsystem, DEFAULT_RPC_TIMEOUT_MS, errorFromRpc } from './rpc/rpc.js';
export type { RpcOptions, CallOptions, BatchItem } from './rpc/rpc.js';
export { kwargs, KwArgs, onPlatform, OnPlatform } from './rpc/params.js';
export { ExternalRpcSubsystem } from './rpc/external-rpc.js';
export type { ExternalRpcServer } from './rpc/external-rpc.js';
/** An external call whose platform is unknown or unreachable (docs/protocol.md 6.3). */
export { PlatformUnreachableError } from '@vip/protocol';
export type { ParamSpec, ParamKind } from './rpc/params.js';
export { exported } from './rpc/exports.js';
export type { ExportOptions, RpcHandler, RpcCallContext } from './rpc/exports.js';
export { rpcContext } from './rpc/call-context.js';
export { checkCapabilities } from './rpc/capabilities.js';
export type { CapabilityMap, UserCapabilities } from './rpc/capabilities.js';
