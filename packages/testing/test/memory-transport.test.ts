import { MemoryTransport } from '../src/memory-transport.js';
import { describeAgentConnectionConformance, describeRouterTransportConformance } from '../src/transport-conformance.js';
import type { TransportConformanceFixture } from '../src/transport-conformance.js';
import type { MemoryConnection } from '../src/memory-transport.js';

// The in-memory fake passes the same contract suite as the ZeroMQ and RabbitMQ transports.
const fixture: TransportConformanceFixture = {
  name: 'memory',
  capabilities: { peerEvents: true },
  timeoutMs: 2_000,
  async startRouter(handlers) {
    const transport = new MemoryTransport();
    await transport.start(handlers);
    const connections: MemoryConnection[] = [];
    return {
      transport,
      createConnection(identity) {
        const c = transport.connection(identity);
        connections.push(c);
        return c;
      },
      async close() {
        await transport.close();
        for (const c of connections) await c.close();
      },
    };
  },
};

describeRouterTransportConformance(fixture);
describeAgentConnectionConformance(fixture);
