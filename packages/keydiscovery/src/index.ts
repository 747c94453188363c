// Public API of @vip/keydiscovery: every export is listed by name. No zeromq, no amqplib: the
// routing service that makes the links is handed the results through RoutingTableHandlers.

// --- the /discovery/ endpoint ---
export { serveDiscovery, DEFAULT_DISCOVERY_SERVER_LIMITS } from './discovery-server.js';
export type { DiscoveryServer, DiscoveryServerOptions, DiscoveryServerLimits, DiscoveryServerStats } from './discovery-server.js';
export {
  DiscoveryResponseSchema,
  toDiscoveryResponse,
  fromDiscoveryResponse,
  discoveryResponseText,
  checkPublishedInfo,
  linkableDiscovery,
  pickDiscoveryVipAddress,
  tcpAddressProblem,
} from './discovery-info.js';
export type { DiscoveryInfo, DiscoveryResponse, PlatformDiscovery } from './discovery-info.js';
export { DEFAULT_BIND_WEB_ADDRESS, DISCOVERY_PATH, parseWebAddress } from './web-address.js';
export type { WebAddress } from './web-address.js';

// --- fetching another platform's /discovery/ ---
export { fetchDiscovery, DEFAULT_FETCH_TIMEOUT_MS, DEFAULT_MAX_RESPONSE_BYTES } from './discovery-client.js';
export type { FetchDiscoveryOptions, DiscoveryAnswer } from './discovery-client.js';
export { withRetry, retryDelayMs, checkRetryPolicy, DEFAULT_RETRY_POLICY } from './retry.js';
export type { RetryPolicy, RetryHooks, RetryOutcome } from './retry.js';

// --- KeyDiscoveryAgent: setup and normal mode ---
export { KeyDiscoveryAgent } from './key-discovery-agent.js';
export type { KeyDiscoveryAgentOptions, KeyDiscoveryMode, RoutingTableHandlers, SetupModePlatform } from './key-discovery-agent.js';
export type {
  PlatformResult,
  DiscoveredPlatform,
  UnlinkedPlatform,
  KeyDiscoveryReport,
  PlatformDiscoveryStatus,
  DiscoveryState,
  KeyDiscoveryStats,
} from './discovery-status.js';
export { checkPinnedKey, recordKnownHost } from './key-pinning.js';
export type { KeyPinCheck, AcceptedKeyChange } from './key-pinning.js';

// --- VOLTTRON's files ---
export {
  keyDiscoveryPaths,
  readExternalAddresses,
  PlatformDiscoveryFile,
  ExternalAddressFileSchema,
  StoredPlatformSchema,
  formatCompactJson,
  MAX_PLATFORMS,
} from './discovery-files.js';
export type { KeyDiscoveryPaths, StoredPlatform, StoredEntry } from './discovery-files.js';

// --- errors ---
export {
  DiscoveryUnreachableError,
  DiscoveryResponseError,
  DiscoveryTimeoutError,
  KeyChangedError,
  isDiscoveryFailure,
} from './errors.js';
export type { DiscoveryFailure, DiscoveryResponseProblem, PinnedKeySource } from './errors.js';
