export {
  ConfigStoreService,
  CONFIG_STORE_IDENTITY,
  CONFIG_STORE_CAPABILITIES,
  EDIT_CONFIG_STORE,
  DEFAULT_PUSH_TIMEOUT_MS,
} from './config-store-service.js';
export type { ConfigStoreServiceOptions } from './config-store-service.js';
