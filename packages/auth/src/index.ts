// Public API of @vip/auth: every export is listed by name. Bus-neutral: no zeromq, no amqplib.

// --- auth.json: entries, rules, the file, its watcher, the decision ---
export { Authenticator, composeUserId, VIP_ZAP_DOMAIN } from './authenticator.js';
export type { AuthRequest, AuthDecision, AuthenticatorOptions } from './authenticator.js';
export { AuthRules, AuthFileSchema, AUTH_FILE_VERSION } from './auth-rules.js';
export type { AuthFileData } from './auth-rules.js';
export { AuthEntrySchema, MechanismSchema } from './auth-entry.js';
export type { AuthEntry, AuthEntryInput, CompiledAuthEntry } from './auth-entry.js';
export { AuthFile, authFilePaths } from './auth-file.js';
export type { AuthFileOptions, AuthList, AuthEntryRef } from './auth-file.js';
export { AuthFileWatcher } from './auth-watcher.js';
export type { AuthFileWatcherOptions, AuthFileWatcherStats } from './auth-watcher.js';
export { keepAdmitting } from './admission-guard.js';
export type { AuthRulesGuard, KeptKey } from './admission-guard.js';
export { PendingAuthStore, PendingAuthEntrySchema } from './pending-store.js';
export type { PendingAuthEntry, PendingFailure, PendingAuthStoreOptions } from './pending-store.js';
export { RefusalDelays } from './refusal-delay.js';
export type { RefusalDelayOptions } from './refusal-delay.js';

// --- VIP_HOME ---
export { resolveVipHome, defaultLocalAddress, vipHomePaths, prepareVipHome } from './vip-home.js';
export type { VipHomePaths } from './vip-home.js';

// --- keys: keystores, known_hosts ---
export { KeyStore, KeyStoreFileSchema, toZ85KeyPair } from './keystore.js';
export type { KeyStoreOptions, Z85KeyPair } from './keystore.js';
export { KnownHosts, KnownHostsFileSchema, knownHostsKey } from './known-hosts.js';

// --- files ---
export { FileWatcher, fileSignature } from './file-watcher.js';
export type { FileWatcherOptions, FileWatcherStats } from './file-watcher.js';
export { makeDirectories } from './make-directories.js';
export { readJsonFile, writeFileAtomic, formatJson, describeIssues } from './json-file.js';
export type { ReadJsonOptions, WriteFileOptions } from './json-file.js';
