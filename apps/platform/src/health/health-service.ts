import { frameText, type Frame, type Logger, type RouterExtension, type RouterServices } from '@vip/protocol';
import type { Agent } from '@vip/agent';
import { HealthTable, type HealthTableStats } from './health-table.js';

/** The service's identity (VOLTTRON's `PLATFORM_HEALTH`). */
export const HEALTH_IDENTITY = 'platform.health';

/** The topic prefixes the service listens to: heartbeats (status) and alerts (`health.send_alert`). */
const HEARTBEAT_PREFIX = 'heartbeat';
const ALERTS_PREFIX = 'alerts/';

/**
 * The router side: VOLTTRON's router calls the health service's `peer_added`/`peer_dropped`
 * in-process; here a router extension serving no subsystem sees the same events through the
 * peer hooks, so rows exist from the router's own knowledge, before any heartbeat.
 */
export function healthPeerExtension(table: HealthTable): RouterExtension {
  return {
    name: 'health',
    subsystems: [],
    attach(_services: RouterServices) {},
    handle: () => false,
    peerAdded: (peer: Frame) => table.added(frameText(peer)),
    peerDropped: (peer: Frame) => table.dropped(frameText(peer)),
  };
}

/**
 * `platform.health` (VOLTTRON 9 HealthService): `get_platform_health` answers the table; the
 * service agent subscribes to `heartbeat` (each agent's heartbeat subsystem publishes its status
 * there) and to `alerts/` (each `health.send_alert`), records the last of each per sender, and
 * forwards every alert to the platform's log (`health.alert`, warn) where operators and log
 * shippers see it. Pubsub gives the publisher's proven identity as `sender`, so an agent cannot
 * report for another.
 */
export async function startHealthService(options: {
  readonly agent: Agent;
  readonly table: HealthTable;
  readonly logger: Logger;
}): Promise<void> {
  const { agent, table, logger } = options;
  agent.rpc.export('get_platform_health', () => table.report(), {
    doc: 'The health of every connected agent: peer, service_agent, connected, last_heartbeat, message (and, on vip, last_alert).',
  });
  agent.rpc.export('health.stats', () => table.stats() satisfies HealthTableStats, { doc: 'Rows, heartbeats and alerts seen, and drops.' });
  await agent.start();
  const pubsub = agent.pubsub;
  if (!pubsub) throw new Error('platform.health needs the pubsub subsystem');
  await pubsub.subscribe(HEARTBEAT_PREFIX, (_peer, sender, _bus, _topic, _headers, message) => table.heartbeat(sender, message));
  await pubsub.subscribe(ALERTS_PREFIX, (_peer, sender, _bus, topic, headers, message) => {
    const key = typeof headers.alert_key === 'string' ? headers.alert_key : '';
    table.alert(sender, key, message);
    logger.warn('health.alert', { sender, topic, alert_key: key, status: typeof message === 'string' ? message : JSON.stringify(message) });
  });
}
