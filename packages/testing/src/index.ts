// Public API of @vip/testing: every export is listed by name.
export const PACKAGE_NAME = '@vip/testing';
export { MemoryTransport, MemoryConnection } from './memory-transport.js';
export type { MemoryTransportOptions } from './memory-transport.js';
export { AsyncQueue } from './async-queue.js';
export { waitFor } from './wait-for.js';
export type { WaitForOptions } from './wait-for.js';
export { describeRouterTransportConformance, describeAgentConnectionConformance } from './transport-conformance.js';
export type { TransportConformanceFixture, TransportConformanceCapabilities, ConformanceRouter } from './transport-conformance.js';
