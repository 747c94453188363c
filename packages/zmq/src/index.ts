// Public API of @vip/zmq: every export is listed by name.
// Two owners during the first build-out: keep to your section.

// --- transport (VIP socket, router transport, agent connection) ---
export type { ZapMechanism, ZapAdmission, AdmissionSink, PendingAdmission, AdmissionAnswer } from './zap-contract.js';
export { ZmqRouterTransport } from './router-transport.js';
export type { SendLimits, RouterSenderStats } from './router-sender.js';
export type { ZmqRouterTransportOptions, ZmqRouterStats, ZmqRouterLimits } from './router-transport.js';
export type { SendBacklogStats } from './send-backlog.js';
export { ZmqConnection, AUTH_REFUSED_REASON } from './connection.js';
export type { ZmqConnectionOptions, ZmqConnectionStats } from './connection.js';
export {
  DEFAULT_HIGH_WATER_MARK, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_AGENT_MAX_FRAME_BYTES, DEFAULT_PEER_QUEUE_BYTES, DEFAULT_PEER_QUEUE_MESSAGES,
  DEFAULT_ROUTER_QUEUE_BYTES, DEFAULT_SEND_HIGH_WATER_MARK, VIP_ZAP_DOMAIN,
} from './socket-options.js';

// --- auth (ZAP handler, auth.json, keystore, known_hosts) ---
export { ZapHandler, ZAP_ENDPOINT } from './auth/zap-handler.js';
export type { ZapHandlerOptions, ZapHandlerStats, ZapRefusal } from './auth/zap-handler.js';
export { parseZapRequest, zapReply, ZAP_VERSION } from './auth/zap-request.js';
export type { ZapRequest, ZapParseResult } from './auth/zap-request.js';
export { Authenticator, composeUserId } from './auth/authenticator.js';
export type { AuthRequest, AuthDecision, AuthenticatorOptions } from './auth/authenticator.js';
export { AuthRules, AuthFileSchema, AUTH_FILE_VERSION } from './auth/auth-rules.js';
export type { AuthFileData } from './auth/auth-rules.js';
export { AuthEntrySchema, CapabilitiesSchema, normaliseCapabilities, isRegexText } from './auth/auth-entry.js';
export type { AuthEntry, AuthEntryInput, Capabilities, CompiledAuthEntry } from './auth/auth-entry.js';
export { AuthFile, authFilePaths } from './auth/auth-file.js';
export type { AuthFileOptions, AuthList, AuthEntryRef } from './auth/auth-file.js';
export { AuthFileWatcher } from './auth/auth-watcher.js';
export type { AuthFileWatcherOptions, AuthFileWatcherStats } from './auth/auth-watcher.js';
export { keepAdmitting } from './auth/admission-guard.js';
export type { AuthRulesGuard, KeptKey } from './auth/admission-guard.js';
export { PendingAuthStore, PendingAuthEntrySchema } from './auth/pending-store.js';
export type { PendingAuthEntry, PendingFailure, PendingAuthStoreOptions } from './auth/pending-store.js';
export { RefusalDelays } from './auth/refusal-delay.js';
export type { RefusalDelayOptions } from './auth/refusal-delay.js';
export { KeyStore, KeyStoreFileSchema, toZ85KeyPair } from './keystore.js';
export type { KeyStoreOptions, Z85KeyPair } from './keystore.js';
export { KnownHosts, KnownHostsFileSchema, knownHostsKey } from './known-hosts.js';

// --- files ---
export { makeDirectories } from './make-directories.js';
