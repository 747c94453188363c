// @vip/protocol/internal: the zod schemas of the wire payloads, the capability model and the instance
// name, for the vip packages that validate with them (every export listed by name). A user of
// @vip/protocol needs the parse* functions and types of the main entry instead.
export {
  PythonExceptionSchema,
  RpcErrorDataSchema,
  RpcErrorObjectSchema,
  RpcRequestSchema,
  RpcResultResponseSchema,
  RpcErrorResponseSchema,
  RpcObjectSchema,
} from './jsonrpc.js';
export {
  SubscribeRequestSchema,
  UnsubscribeScopeSchema,
  UnsubscribeRequestSchema,
  LegacyUnsubscribeRequestSchema,
  PublishRequestSchema,
  DeliveredPublishSchema,
  ExternalPublishSchema,
  ListRequestSchema,
  ListResponseSchema,
  SynchronizeRequestSchema,
  AuthUpdateSchema,
  ProtectedTopicSchema,
  ProtectedUpdateSchema,
  ExternalListSchema,
} from './payloads.js';
export { CapabilitiesInputSchema, CapabilitiesSchema, CapabilityMapSchema } from './capabilities.js';
export { instanceNameSchema } from './instance-name.js';
export { ExternalRpcPayloadSchema, ExternalRpcErrorDataSchema } from './external-rpc.js';
export { StatusSnapshotSchema, StatusPeerSchema, StatusTopicSchema, RateSampleSchema, LinkedPlatformSchema } from './status-snapshot.js';
