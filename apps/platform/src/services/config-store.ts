import { join } from 'node:path';
import { ConfigStore } from '@vip/config-store';
import { CONFIG_STORE_CAPABILITIES, CONFIG_STORE_IDENTITY, ConfigStoreService } from '../config-store/index.js';
import type { PlatformService } from '../platform-service.js';

/** `$VIP_HOME/configuration_store`, where VOLTTRON keeps it too. */
export const CONFIG_STORE_DIRECTORY = 'configuration_store';

/**
 * `config.store`: VOLTTRON's configuration store. Its files are loaded before the router starts,
 * so a store file that does not load stops the platform at start with the file's name (nothing is
 * served, nothing overwritten). Its agent connects like `control`; its checks read the capability
 * map of `platform.auth`.
 */
export function configStoreService(): PlatformService {
  let store: ConfigStore | undefined;
  let service: ConfigStoreService | undefined;
  return {
    name: CONFIG_STORE_IDENTITY,
    configKeys: [],
    async prepare(ctx) {
      store = await ConfigStore.load({
        directory: join(ctx.paths.home, CONFIG_STORE_DIRECTORY),
        logger: ctx.logger.child({ service: CONFIG_STORE_IDENTITY }),
      });
      ctx.logger.info('config_store.loaded', { stores: store.listStores().length, bytes: store.totalBytes });
    },
    async start(ctx) {
      if (!store || !ctx.bus.serviceAgents) return;
      const feed = ctx.capabilities;
      const capabilities = ctx.auth ? { capabilities: () => feed.latest() ?? {} } : {};
      const logger = ctx.logger.child({ service: CONFIG_STORE_IDENTITY });
      const agent = await ctx.bus.serviceAgents.create(CONFIG_STORE_IDENTITY, {
        entry: CONFIG_STORE_CAPABILITIES,
        logger,
        ...(ctx.auth ? { rpc: capabilities } : {}),
      });
      service = new ConfigStoreService({ store, agent, logger, ...capabilities });
      try {
        await agent.start();
      } catch (err) {
        await agent.close();
        throw err;
      }
    },
    stop: () => service?.close() ?? Promise.resolve(),
    counters: () => (service ? { config_store: service.counters() } : {}),
  };
}
