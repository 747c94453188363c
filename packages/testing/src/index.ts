// Public API of @vip/testing: every export is listed by name.
export const PACKAGE_NAME = '@vip/testing';
export { MemoryTransport, MemoryConnection } from './memory-transport.js';
export type { MemoryTransportOptions } from './memory-transport.js';
export { AsyncQueue } from './async-queue.js';
export { waitFor } from './wait-for.js';
export type { WaitForOptions } from './wait-for.js';
export { describeRouterTransportConformance, describeAgentConnectionConformance, conformanceRouter } from './transport-conformance.js';
export type { TransportConformanceFixture, TransportConformanceCapabilities, ConformanceRouter } from './transport-conformance.js';
export { failedStart, startPlatform, PlatformProcess } from './platform-launcher.js';
export type { StartPlatformOptions, AuthorizeOptions, PlatformLogLine } from './platform-launcher.js';
export { RawVipClient } from './raw-vip-client.js';
export type { RawVipClientOptions } from './raw-vip-client.js';
export { openRawClient, serviceKeys, routerStats } from './platform-clients.js';
export type { OpenRawClientOptions, RouterStatsView } from './platform-clients.js';
export { pythonRpcCall } from './python-rpc.js';
export type { PythonRpcReply } from './python-rpc.js';
export { loadTranscript, TRANSCRIPT_DIR } from './transcripts.js';
export type { Transcript, TranscriptExchange } from './transcripts.js';
export { seededPrng } from './seeded-prng.js';
export { freePort } from './free-port.js';
export type { Prng } from './seeded-prng.js';
export { AMQP_URL, MANAGEMENT, FAST_RECONNECT, vhostFixture, exclusiveBroker, rabbitmqctl, Inbox } from './rabbitmq-broker.js';
export type { TestVhost, VhostSetup } from './rabbitmq-broker.js';
export { startTlsNode, TLS_CLIENTS } from './rabbitmq-tls-node.js';
export type { TlsNode, TlsNodeOptions, TlsNodeManagement, TlsPem } from './rabbitmq-tls-node.js';
export {
  holdPrivateRabbitMqSlot,
  privateRunDir,
  reapDeadRuns,
  beamVmsUnder,
  killQuietly,
  PRIVATE_RUNS_DIR,
} from './private-rabbitmq-runs.js';
export type { PrivateRabbitMqSlot } from './private-rabbitmq-runs.js';
export { startScenarioRouter, startScenarioAgent, trafficLoop, reconnected, vip } from './transport-scenario.js';
export type { Recorded, ScenarioRouter, StatusRouterTransport } from './transport-scenario.js';
export { MemoryRouter, MemoryRouterConnection } from './memory-router.js';
export type { Sent } from './memory-router.js';
export { MemoryRouterServices } from './memory-router-services.js';
export type { Delivered } from './memory-router-services.js';
