// Public API of @vip/router: every export is listed by name.
export { Router } from './router.js';
export type { RouterOptions } from './router.js';
export { HelloExtension } from './subsystems/hello.js';
export type { HelloExtensionOptions } from './subsystems/hello.js';
export { PingExtension } from './subsystems/ping.js';
export { PeerlistExtension } from './subsystems/peerlist.js';
export type { PeerlistPacing } from './subsystems/peerlist.js';
export { QueryExtension, zmqQueryReply } from './subsystems/query.js';
export type { QueryProperties, QueryReplyLayout } from './subsystems/query.js';
export { PeerControlExtension } from './subsystems/peer-control.js';
export type { PeerControlOptions } from './subsystems/peer-control.js';
export { RouterErrorExtension } from './subsystems/router-error.js';
export { PeerRegistry } from './peer-registry.js';
export { ReservedIdentities } from './reserved-identities.js';
export type { ReservationTable } from './reserved-identities.js';
export { PlatformLinkSet } from './platform-link-set.js';
export { Tracker } from './tracker.js';
export type { TrackerStats, IssueTopic, IssuedMessage, CountMap } from './tracker.js';
export type { RouterStats } from './router-counters.js';
export type { QueryValue } from './wire-values.js';
// --- multi-platform (docs/protocol.md 6): bus-neutral, reused by the RabbitMQ proxy router ---
export { PlatformLinkTable, linkUserOf } from './multiplatform/platform-table.js';
export type {
  LinkState,
  OutgoingPlatformLink,
  RemotePlatformStatus,
  RemotePlatformCounters,
  LinkMessageHandler,
  PlatformLinkTableOptions,
} from './multiplatform/platform-table.js';
export { RoutingTableExtension } from './multiplatform/routing-table-extension.js';
export { ExternalRpcExtension, qualifiedRemoteUser } from './multiplatform/external-rpc-extension.js';
export type { ExternalRpcExtensionOptions } from './multiplatform/external-rpc-extension.js';
export { externalPubSubLinks } from './multiplatform/external-pubsub.js';
export type { ExternalPubSubLinks } from './multiplatform/external-pubsub.js';
