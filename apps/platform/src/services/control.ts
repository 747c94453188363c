import { CONTROL_IDENTITY, startControlService, type ControlService } from '../control/index.js';
import type { PlatformService } from '../platform-service.js';

/**
 * `control`: the stats RPCs over the router's Tracker and the always-on counters (vipctl stats).
 * Its `allow` checks read the capability map of `platform.auth` (authentication on). It connects
 * like any agent through the bus (ZeroMQ: over the local address with its own key, admitted by
 * the first-start auth.json; none without authentication).
 */
export function controlService(options: { status?: (options: { rates?: number }) => unknown } = {}): PlatformService {
  let control: ControlService | undefined;
  return {
    name: CONTROL_IDENTITY,
    configKeys: [],
    async start(ctx) {
      if (!ctx.bus.serviceAgents) return;
      const feed = ctx.capabilities;
      const capabilities = ctx.auth ? { capabilities: () => feed.latest() ?? {} } : {};
      const agent = await ctx.bus.serviceAgents.create(CONTROL_IDENTITY, {
        logger: ctx.logger.child({ service: CONTROL_IDENTITY }),
        ...(ctx.auth ? { rpc: capabilities } : {}),
      });
      control = await startControlService({
        ...capabilities,
        tracker: ctx.router.tracker,
        counters: ctx.counters,
        vipHome: ctx.paths.home,
        address: ctx.bus.localAddress,
        serverKey: ctx.platformKey ?? '',
        agent,
        logger: ctx.logger,
        ...(options.status ? { status: options.status } : {}),
      });
    },
    stop: () => control?.close() ?? Promise.resolve(),
  };
}
