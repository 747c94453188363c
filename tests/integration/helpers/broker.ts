// The broker fixtures of @vip/testing with @vip/rmq's VOLTTRON set-up, for the integration tests.
import { agentRmqFilePath, RmqConnection, RmqRouterTransport } from '@vip/rmq';
import { ensureVolttronBroker, RabbitMqManagement } from '@vip/rmq/admin';
import {
  AMQP_URL,
  FAST_RECONNECT,
  MANAGEMENT,
  startScenarioAgent as recordAgent,
  startScenarioRouter as recordRouter,
  vhostFixture,
} from '@vip/testing';
import { join } from 'node:path';

export { reconnected, trafficLoop, vip } from '@vip/testing';

export const management = new RabbitMqManagement(MANAGEMENT);
export const freshVhost = vhostFixture({
  prepare: (vhost) => ensureVolttronBroker({ url: AMQP_URL, vhost, management: MANAGEMENT }),
  remove: (vhost) => management.deleteVhost(vhost),
});

/** `$VIP_HOME/keystores/<identity>/rmq.json`, the file `vipctl auth add --identity` writes. */
export const agentRmqPath = agentRmqFilePath;

/** The agent's client certificate and key on an EXTERNAL platform (written by `vipctl auth add --identity`). */
export function agentCertPaths(vipHome: string, identity: string): { cert: string; key: string } {
  const dir = join(vipHome, 'keystores', identity);
  return { cert: join(dir, 'rmq-cert.pem'), key: join(dir, 'rmq-key.pem') };
}

/** @vip/testing's transport scenario over @vip/rmq's transports. */
export function startScenarioRouter(vhost: string) {
  return recordRouter(new RmqRouterTransport({ url: AMQP_URL, vhost, instanceName: 'inst', reconnect: FAST_RECONNECT, peerSweepMs: 0 }));
}

export function startScenarioAgent(vhost: string, identity: string) {
  return recordAgent(new RmqConnection({ url: AMQP_URL, vhost, instanceName: 'inst', identity, reconnect: FAST_RECONNECT }));
}
