// Public API of @vip/router: every export is listed by name.
export { BaseRouter } from './base-router.js';
export type { BaseRouterOptions } from './base-router.js';
export { Router } from './router.js';
export type { RouterOptions } from './router.js';
export type { MessageBus } from './rmq-subsystems.js';
export { PeerRegistry } from './peer-registry.js';
export { ReservedIdentities } from './reserved-identities.js';
export type { ReservationTable } from './reserved-identities.js';
export { PlatformLinkSet } from './platform-link-set.js';
export { Tracker } from './tracker.js';
export type { TrackerStats, IssueTopic, IssuedMessage, CountMap } from './tracker.js';
export type { RouterStats } from './router-counters.js';
export type { QueryProperties } from './query-subsystem.js';
export type { QueryValue } from './wire-values.js';
