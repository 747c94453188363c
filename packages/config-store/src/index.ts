// Public API of @vip/config-store: every export is listed by name. Bus-neutral (no zeromq, no amqplib).
export { ConfigStore, formatModified, checkStoreIdentity } from './config-store.js';
export type { ConfigAction, ConfigChange, ConfigStoreOptions } from './config-store.js';
export { ConfigNotFoundError, ConfigContentError, StoreFileError, StoreLimitError, StoreIdentityError } from './errors.js';
export { processRawConfig, stripComments, csvRows, CONFIG_TYPES, ConfigTypeSchema } from './parse.js';
export type { ConfigType, ConfigContents } from './parse.js';
export { LINK_PREFIX, STORE_EXT, stripConfigName, configLink, listUniqueLinks, hasRecursion, resolveLinks } from './links.js';
export { readStoreFile, writeStoreFile, storeFileText, StoredConfigSchema, StoreFileSchema } from './store-file.js';
export type { StoredConfig, WriteHooks } from './store-file.js';
