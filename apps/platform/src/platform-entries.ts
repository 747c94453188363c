import type { Logger } from '@vip/protocol';
import { PUBSUB_WRAPPER_IDENTITY } from './legacy-pubsub/pubsub-wrapper.js';
import { keepAdmitting, KeyStore, type AuthRulesGuard, type KeptKey } from '@vip/auth';
import { AUTH_SERVICE_IDENTITY } from './auth-service/service-entry.js';
import { CONFIG_STORE_IDENTITY } from './config-store/config-store-service.js';
import { LOCAL_SERVICE_IDENTITIES } from './initial-auth.js';

/** The platform's own services that connect with a key of their own (`keystores/<identity>/`). */
export const PLATFORM_SERVICE_IDENTITIES: readonly string[] = [
  ...LOCAL_SERVICE_IDENTITIES,
  AUTH_SERVICE_IDENTITY,
  CONFIG_STORE_IDENTITY,
  PUBSUB_WRAPPER_IDENTITY,
];

/**
 * The auth.json guard of the platform (issue 10 item 12): a new auth.json must go on admitting the
 * platform's key and the keys of its services as the rules in force do (same user id and
 * identity), else it is refused and the rules in force stay. `{}` or an empty file (a truncated
 * write) would otherwise lock out control, vipctl and platform.auth. The keys are read at each
 * reload (a service's keystore may appear after the start); an unreadable keystore is skipped.
 */
export function platformEntriesGuard(options: {
  readonly vipHome: string;
  readonly platformPublicKey: string;
  readonly logger: Logger;
}): AuthRulesGuard {
  return keepAdmitting(async () => {
    const keys: KeptKey[] = [{ publicKey: options.platformPublicKey, name: "the platform's key" }];
    for (const identity of PLATFORM_SERVICE_IDENTITIES) {
      try {
        const pair = await KeyStore.agent(options.vipHome, identity).load();
        if (pair) keys.push({ publicKey: pair.public, name: `${identity}'s key` });
      } catch (err) {
        options.logger.debug('auth.guard.keystore_unreadable', { identity }, err);
      }
    }
    return keys;
  });
}
