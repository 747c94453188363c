// Public API of @vip/testing: every export is listed by name.
export const PACKAGE_NAME = '@vip/testing';
export { MemoryTransport, MemoryConnection } from './memory-transport.js';
export type { MemoryTransportOptions } from './memory-transport.js';
export { AsyncQueue } from './async-queue.js';
export { waitFor } from './wait-for.js';
export type { WaitForOptions } from './wait-for.js';
export { describeRouterTransportConformance, describeAgentConnectionConformance } from './transport-conformance.js';
export type { TransportConformanceFixture, TransportConformanceCapabilities, ConformanceRouter } from './transport-conformance.js';
export { startPlatform, PlatformProcess } from './platform-launcher.js';
export type { StartPlatformOptions, AuthorizeOptions, PlatformLogLine } from './platform-launcher.js';
export { RawVipClient } from './raw-vip-client.js';
export type { RawVipClientOptions } from './raw-vip-client.js';
export { openRawClient, serviceKeys } from './platform-clients.js';
export type { OpenRawClientOptions } from './platform-clients.js';
export { loadTranscript, TRANSCRIPT_DIR } from './transcripts.js';
export type { Transcript, TranscriptExchange } from './transcripts.js';
export { seededPrng } from './seeded-prng.js';
export type { Prng } from './seeded-prng.js';
