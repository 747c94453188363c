// @vip/testing's transport scenario over this package's transports on the test broker.
import { startScenarioAgent as recordAgent, startScenarioRouter as recordRouter } from '@vip/testing';
import { RmqConnection, RmqRouterTransport, type ManagementOptions } from '../src/index.js';
import { AMQP_URL, FAST_RECONNECT } from './broker-fixture.js';

export { reconnected, trafficLoop, vip } from '@vip/testing';

export function startScenarioRouter(
  vhost: string,
  options: { instanceName?: string; peerSweepMs?: number; management?: ManagementOptions } = {},
) {
  return recordRouter(
    new RmqRouterTransport({
      url: AMQP_URL,
      vhost,
      instanceName: options.instanceName ?? 'inst',
      reconnect: FAST_RECONNECT,
      peerSweepMs: options.peerSweepMs ?? 0,
      ...(options.management ? { management: options.management } : {}),
    }),
  );
}

export function startScenarioAgent(vhost: string, identity: string, instanceName = 'inst') {
  return recordAgent(new RmqConnection({ url: AMQP_URL, vhost, instanceName, identity, reconnect: FAST_RECONNECT }));
}
