import type { Agent } from '@vip/agent';
import { PUBSUB_WRAPPER_IDENTITY, PubSubWrapper } from '../legacy-pubsub/pubsub-wrapper.js';
import type { PlatformService } from '../platform-service.js';

/**
 * VOLTTRON's PubSubWrapper (docs/protocol.md 3.8), `--legacy-pubsub true`: an agent with identity
 * `pubsub` serving the RPC-based pubsub of agents written for VOLTTRON <= 4.1. It connects like the
 * other local services, with its own key and an auth.json entry pinned to its identity and no
 * capabilities (legacy agents cannot publish on protected topics through it).
 */
export function legacyPubsubService(): PlatformService {
  let agent: Agent | undefined;
  let wrapper: PubSubWrapper | undefined;
  return {
    name: `${PUBSUB_WRAPPER_IDENTITY} (legacy)`,
    configKeys: ['legacy-pubsub'],
    async start(ctx) {
      if (!ctx.bus.serviceAgents) return;
      const logger = ctx.logger.child({ service: PUBSUB_WRAPPER_IDENTITY });
      agent = await ctx.bus.serviceAgents.create(PUBSUB_WRAPPER_IDENTITY, { entry: {}, logger });
      wrapper = new PubSubWrapper(agent); // exports its RPCs on the agent
      await agent.start();
      logger.info('legacy.pubsub.started', { identity: agent.identity });
    },
    stop: () => agent?.close() ?? Promise.resolve(),
    counters: () => (wrapper ? { legacyPubsub: wrapper.stats() } : {}),
  };
}
