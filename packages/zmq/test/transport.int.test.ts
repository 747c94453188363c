import { Context, curveKeyPair } from 'zeromq';
import { describeAgentConnectionConformance, describeRouterTransportConformance, type ConformanceRouter, type TransportConformanceFixture } from '@vip/testing';
import type { AgentConnection, RouterTransportHandlers } from '@vip/protocol';
import { ZmqConnection } from '../src/connection.js';
import { ZmqRouterTransport } from '../src/router-transport.js';
import { TestZap } from './support/test-zap.js';

let routers = 0;

/** tcp on loopback, CURVE, every handshake passing an admit-all ZAP responder. */
const curveFixture: TransportConformanceFixture = {
  name: 'zmq tcp + CURVE',
  capabilities: { peerEvents: true },
  async startRouter(handlers: RouterTransportHandlers): Promise<ConformanceRouter> {
    const server = curveKeyPair();
    const context = new Context();
    const transport = new ZmqRouterTransport({ addresses: ['tcp://127.0.0.1:*'], secretKey: server.secretKey, context });
    const zap = await TestZap.start(context, transport);
    await transport.start(handlers);
    const endpoint = transport.endpoints[0] as string;
    return fixtureRouter(transport, (identity) => new ZmqConnection({ identity, address: endpoint, serverKey: server.publicKey }), () => zap.close());
  },
};

/** ipc (abstract namespace), no authentication. */
const ipcFixture: TransportConformanceFixture = {
  name: 'zmq ipc, no auth',
  capabilities: { peerEvents: true },
  async startRouter(handlers: RouterTransportHandlers): Promise<ConformanceRouter> {
    const transport = new ZmqRouterTransport({ addresses: [`ipc://@/vip-conformance-${process.pid}-${++routers}`] });
    await transport.start(handlers);
    const endpoint = transport.endpoints[0] as string;
    return fixtureRouter(transport, (identity) => new ZmqConnection({ identity, address: endpoint }), async () => {});
  },
};

function fixtureRouter(transport: ZmqRouterTransport, make: (identity: string) => AgentConnection, extra: () => Promise<void>): ConformanceRouter {
  const connections: AgentConnection[] = [];
  let closed: Promise<void> | undefined;
  return {
    transport,
    createConnection(identity) {
      const c = make(identity);
      connections.push(c);
      return c;
    },
    close() {
      closed ??= (async () => {
        await Promise.all(connections.map((c) => c.close()));
        await transport.close();
        await extra();
      })();
      return closed;
    },
  };
}

for (const fixture of [curveFixture, ipcFixture]) {
  describeRouterTransportConformance(fixture);
  describeAgentConnectionConformance(fixture);
}
