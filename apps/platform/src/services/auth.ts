import { AUTH_SERVICE_CAPABILITIES, AUTH_SERVICE_IDENTITY, AuthService } from '../auth-service/index.js';
import type { PlatformService } from '../platform-service.js';
import { platformUsers } from '../service-identities.js';

/**
 * `platform.auth` (authentication on): answers the capability RPCs from auth.json and hands the
 * capability map to the other services (the `capabilities` feed: pubsub, the RabbitMQ topic
 * permissions, control's checks) before the router binds, and to every peer on each change.
 * Listed first: the others start with the map in hand.
 */
export function authService(): PlatformService {
  let service: AuthService | undefined;
  return {
    name: AUTH_SERVICE_IDENTITY,
    configKeys: ['allow-auth', 'capability-map-access'],
    prepare(ctx) {
      const auth = ctx.auth;
      if (!auth) return Promise.resolve();
      service = new AuthService({
        source: auth.watcher,
        authFile: auth.authFile,
        pubsub: { setCapabilities: (caps) => ctx.capabilities.publish(caps) },
        logger: ctx.logger,
        mapAccess: ctx.config.capabilityMapAccess,
        platformUsers: (rules) => platformUsers(rules, auth.platformPublicKey),
        ...(ctx.bus.userOfPeer ? { userOfPeer: ctx.bus.userOfPeer } : {}),
      });
      return Promise.resolve();
    },
    async start(ctx) {
      const own = service;
      if (!own || !ctx.bus.serviceAgents) return;
      const agent = await ctx.bus.serviceAgents.create(AUTH_SERVICE_IDENTITY, {
        entry: AUTH_SERVICE_CAPABILITIES,
        logger: ctx.logger.child({ service: AUTH_SERVICE_IDENTITY }),
        // its own `allow` checks (none today) read the map directly instead of calling itself
        rpc: { capabilities: () => own.userToCapabilities() },
      });
      await own.connect({ agent });
    },
    stop: () => service?.close() ?? Promise.resolve(),
  };
}
