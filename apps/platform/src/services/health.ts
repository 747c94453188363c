import { HEALTH_IDENTITY, healthPeerExtension, startHealthService } from '../health/health-service.js';
import { HealthTable } from '../health/health-table.js';
import type { PlatformService } from '../platform-service.js';

/**
 * `platform.health`: a router extension that sees peers come and go (rows from the router's own
 * knowledge) and a service agent answering `get_platform_health` from the heartbeats and alerts
 * it hears on pubsub. Its agent connects like control's (none on ZeroMQ without authentication;
 * the table and its router hooks exist anyway).
 */
export function healthService(): PlatformService {
  const table = new HealthTable();
  let agentClose: (() => Promise<void>) | undefined;
  return {
    name: HEALTH_IDENTITY,
    configKeys: [],
    prepare: () => Promise.resolve([healthPeerExtension(table)]),
    async start(ctx) {
      if (!ctx.bus.serviceAgents) return;
      const feed = ctx.capabilities;
      const logger = ctx.logger.child({ service: HEALTH_IDENTITY });
      const agent = await ctx.bus.serviceAgents.create(HEALTH_IDENTITY, {
        entry: {},
        logger,
        ...(ctx.auth ? { rpc: { capabilities: () => feed.latest() ?? {} } } : {}),
      });
      agentClose = () => agent.close();
      await startHealthService({ agent, table, logger });
    },
    stop: () => agentClose?.() ?? Promise.resolve(),
    counters: () => ({ health: table.stats() }),
  };
}
