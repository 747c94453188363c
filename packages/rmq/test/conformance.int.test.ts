import { afterAll } from 'vitest';
import type { AgentConnection, RouterTransportHandlers } from '@vip/protocol';
import { describeAgentConnectionConformance, describeRouterTransportConformance, type ConformanceRouter, type TransportConformanceFixture } from '@vip/testing';
import { RmqConnection, RmqRouterTransport } from '../src/index.js';
import { AMQP_URL, FAST_RECONNECT, freshVhost, type TestVhost } from './broker-fixture.js';

/** The one transport contract suite, on the real broker: one private vhost, one instance name per router. */
let vhost: Promise<TestVhost> | undefined;
let routers = 0;
afterAll(async () => {
  if (vhost) await (await vhost).dispose();
});

const fixture: TransportConformanceFixture = {
  name: 'rmq (RabbitMQ 3.10, amqp on loopback)',
  capabilities: { peerEvents: true },
  async startRouter(handlers: RouterTransportHandlers): Promise<ConformanceRouter> {
    const vh = await (vhost ??= freshVhost('conformance'));
    const link = { url: AMQP_URL, vhost: vh.vhost, instanceName: `c${++routers}`, reconnect: FAST_RECONNECT };
    const transport = new RmqRouterTransport({ ...link, peerSweepMs: 200 });
    await transport.start(handlers);
    const connections: AgentConnection[] = [];
    let closed: Promise<void> | undefined;
    return {
      transport,
      createConnection(identity) {
        const c = new RmqConnection({ ...link, identity });
        connections.push(c);
        return c;
      },
      close() {
        closed ??= (async () => {
          await Promise.all(connections.map((c) => c.close()));
          await transport.close();
        })();
        return closed;
      },
    };
  },
};

describeRouterTransportConformance(fixture);
describeAgentConnectionConformance(fixture);
