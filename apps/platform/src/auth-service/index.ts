// The platform's `platform.auth` service (VOLTTRON 9 AuthService), started by the platform app.
export { AuthService } from './auth-service.js';
export type { AuthServiceOptions, AuthServiceConnection, AuthServiceStats, AuthRulesSource, CapabilitySink } from './auth-service.js';
export { AUTH_SERVICE_CAPABILITIES, AUTH_SERVICE_IDENTITY, ensureAuthServiceEntry, ensureServiceEntry } from './service-entry.js';
export { userToCapabilities, authorizationsOf } from './user-capabilities.js';
export type { UserToCapabilities, Authorizations } from './user-capabilities.js';
export {
  READ_USER_CAPABILITIES,
  CAPABILITY_MAP_ACCESS,
  DEFAULT_CAPABILITY_MAP_ACCESS,
  visibleCapabilities,
} from './capability-map-access.js';
export type { CapabilityMapAccess } from './capability-map-access.js';
