import { MemoryTransport } from '../src/memory-transport.js';
import { conformanceRouter, describeAgentConnectionConformance, describeRouterTransportConformance } from '../src/transport-conformance.js';
import type { TransportConformanceFixture } from '../src/transport-conformance.js';

// The in-memory fake passes the same contract suite as the ZeroMQ and RabbitMQ transports.
const fixture: TransportConformanceFixture = {
  name: 'memory',
  capabilities: { peerEvents: true },
  timeoutMs: 2_000,
  async startRouter(handlers) {
    const transport = new MemoryTransport();
    await transport.start(handlers);
    return conformanceRouter(transport, (identity) => transport.connection(identity));
  },
};

describeRouterTransportConformance(fixture);
describeAgentConnectionConformance(fixture);
