import { Context, curveKeyPair } from 'zeromq';
import {
  conformanceRouter,
  describeAgentConnectionConformance,
  describeRouterTransportConformance,
  type ConformanceRouter,
  type TransportConformanceFixture,
} from '@vip/testing';
import type { RouterTransportHandlers } from '@vip/protocol';
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
    return conformanceRouter(
      transport,
      (identity) => new ZmqConnection({ identity, address: endpoint, serverKey: server.publicKey }),
      () => zap.close(),
    );
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
    return conformanceRouter(transport, (identity) => new ZmqConnection({ identity, address: endpoint }));
  },
};

for (const fixture of [curveFixture, ipcFixture]) {
  describeRouterTransportConformance(fixture);
  describeAgentConnectionConformance(fixture);
}
