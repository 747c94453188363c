// Public API of @vip/protocol: every export is listed by name. The zod schemas of the wire payloads
// are in @vip/protocol/internal (src/internal.ts): what the packages check frames with, not what a user needs.
export { VIP_SIGNATURE, EMPTY_FRAME, textFrame, frameText, identityKey, frameFromKey, isVipSignature } from './frames.js';
export type { Frame } from './frames.js';
export { encodePeerFrames, decodePeerFrames, decodeRouterFrames, encodeRouterFrames, frameBytes } from './envelope.js';
export type { VipMessage, RoutedMessage, UnroutableReason, RouterDecodeResult } from './envelope.js';
export {
  VipError,
  ERRNO,
  ERRNO_MESSAGES,
  ProtocolError,
  WireError,
  PeerUnreachableError,
  AgainError,
  UnknownSubsystemError,
  InvalidPayloadError,
  TimeoutError,
  ClosedError,
  ConfigError,
  TransportError,
  AddressError,
  KeyError,
  AuthError,
  isVipError,
} from './errors.js';
export type { VipErrorCode } from './errors.js';
export { silentLogger, createJsonLogger, createPrettyLogger, createLogger, LOG_FORMATS } from './logger.js';
export type { Logger, LogFields, LogFn, LogLevel, LogFormat, LoggerOptions } from './logger.js';
export { EXIT_CODES, EXIT_CODES_TEXT } from './exit-codes.js';
export type { ExitCode } from './exit-codes.js';
export { closestMatch, editDistance } from './suggest.js';
export { PLATFORM_CONFIG_KEYS, VOLTTRON_ONLY_CONFIG_KEYS, parseConfigFile, describeUnknownConfigKey } from './config-file.js';
export type { PlatformConfigKey, UnknownConfigKey, ParsedConfigFile } from './config-file.js';
export type { RouterServices, RouterExtension } from './router-extension.js';
export { NO_PLATFORM_LINKS } from './platform-links.js';
export type { PlatformLinks } from './platform-links.js';
export {
  parseExternalRpcPayload,
  EXTERNAL_RPC_OPS,
  EXTERNAL_RPC_FRAME,
  SEND_PLATFORM_FRAME,
  SEND_PEER_FRAME,
  EXTERNAL_RPC_ERROR_CODES,
  PlatformUnreachableError,
} from './external-rpc.js';
export type { ExternalRpcPayload, PlatformUnreachableReason } from './external-rpc.js';
export type {
  TransportKind,
  PeerEvent,
  RouterTransportHandlers,
  DeliveryResult,
  RouterTransport,
  ConnectionStatus,
  AgentConnection,
} from './transport-contract.js';
export { CURVE_KEY_BYTES, z85Encode, z85Decode, decodeKey, encodeKey, keyToZ85, generateKeyPair } from './keys.js';
export type { CurveKeyPair } from './keys.js';
export { Address, ADDRESS_SCHEMES, AUTH_MECHANISMS } from './address.js';
export type { AddressScheme, AuthMechanism, AddressParams, AddressParts } from './address.js';
export { pythonJson, pythonString, pythonNumber, pythonFloatRepr } from './python-json.js';
export {
  encodeBoolFrame,
  encodeCountFrame,
  encodeFloatFrame,
  encodeLatin1Frame,
  jsonFrame,
  jsonValueFrame,
  isJsonValueFrame,
  decodeFrameValue,
  decodeCountOrBool,
  reencodeLikePython,
} from './frame-values.js';
export { InvalidRpcError } from './invalid-rpc-error.js';
export {
  PEERLIST_FRAME,
  PEERLIST_ADD_FRAME,
  PEERLIST_DROP_FRAME,
  LISTING_WITH_MESSAGEBUS_OP,
  peerlistListing,
  peerlistListingWithMessagebus,
  peerlistError,
} from './peerlist-frames.js';
export {
  JSONRPC_VERSION,
  RPC_ERROR_CODES,
  encodeParams,
  decodeParams,
  buildRequest,
  buildResult,
  buildError,
  methodNotFound,
  unhandledException,
  readErrorData,
  errorResponseFor,
  buildBatch,
  rpcText,
  parseRpcFrame,
  parseRpcMessage,
  createRpcIdGenerator,
} from './jsonrpc.js';
export type {
  RpcId,
  RpcParams,
  PythonException,
  RpcErrorData,
  RpcErrorObject,
  RpcRequest,
  RpcResultResponse,
  RpcErrorResponse,
  RpcResponse,
  RpcMessage,
  RpcPayload,
  RequestOptions,
  RpcObject,
} from './jsonrpc.js';
export {
  decodeJsonPayload,
  parsePayload,
  PUBSUB_OPS,
  PUBSUB_REPLY_OPS,
  parseSubscribeRequest,
  parseUnsubscribeRequest,
  parsePublishRequest,
  parseDeliveredPublish,
  parseExternalPublish,
  PUBLISH_COMPAT_HEADERS,
  parseListRequest,
  parseListResponse,
  parseSynchronizeRequest,
  parseAuthUpdate,
  parseProtectedUpdate,
  parseExternalList,
  PEERLIST_REQUEST_OPS,
  PEERLIST_REPLY_OPS,
  PEERLIST_ERRORS,
  parsePeerlistOp,
  QUERY_PROPERTIES,
  isQueryProperty,
  VOLTTRON_COMPATIBLE_VERSION,
  VIP_VERSION_PROPERTY,
  HELLO_OP,
  WELCOME_OP,
  VIP_VERSION,
  welcomeArgs,
  parseWelcome,
} from './payloads.js';
export type {
  PubsubOp,
  SubscribeRequest,
  UnsubscribeScope,
  UnsubscribeRequest,
  PublishRequest,
  DeliveredPublish,
  ListRequest,
  ListResponse,
  SynchronizeRequest,
  AuthUpdate,
  ProtectedUpdate,
  ExternalList,
  PeerlistRequestOp,
  PeerlistReplyOp,
  QueryProperty,
  Welcome,
} from './payloads.js';
export { UNAUTHORIZED_ERRNUM, UNAUTHORIZED_EXC_TYPE, UnauthorizedError } from './unauthorized-error.js';
export type { UnauthorizedErrorOptions } from './unauthorized-error.js';
export { normaliseCapabilities, capabilityRefusal } from './capabilities.js';
export type {
  CapabilityParams,
  Capabilities,
  CapabilityMap,
  CapabilitiesInput,
  CapabilityMapInput,
  CapabilityRefusal,
} from './capabilities.js';
export { isRegexText, wholeValueRegex, protectedTopicRegex } from './regex-text.js';
export { DEFAULT_INSTANCE_NAME, instanceNameProblem } from './instance-name.js';
export type { InstanceNameBus } from './instance-name.js';
export { errnoMessage, errorArgs, errorArgsFor, errorFromArgs } from './wire-errors.js';
export type { StatusSnapshot, StatusPeer, StatusTopic, RateSample, LinkedPlatform } from './status-snapshot.js';
