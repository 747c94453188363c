import { access } from 'node:fs/promises';
import type { Logger } from '@vip/protocol';
import { KeyStore, type AuthFile, type AuthEntryInput } from '@vip/auth';
import { READ_USER_CAPABILITIES } from './auth-service/capability-map-access.js';
import { MANAGE_PLATFORM_STATS } from './control/control-service.js';

/** The platform's local services, each with its own keystore under `keystores/<identity>/`. */
export const LOCAL_SERVICE_IDENTITIES = ['control', 'control.connection'] as const;

/**
 * What VOLTTRON's `control`/`control.connection` entries grant (docs/protocol.md 5.5), plus ours for
 * the platform's own operators: resetting the router statistics and reading every user's
 * capabilities.
 */
const CONTROL_CAPABILITIES = {
  edit_config_store: { identity: '/.*/' },
  modify_rpc_method_allowance: null,
  allow_auth_modifications: null,
  [MANAGE_PLATFORM_STATS]: null,
  [READ_USER_CAPABILITIES]: null,
};

/**
 * On first start (no auth.json yet) admit the platform's own key as user `platform`, and the
 * local control services (`control`, `control.connection`, e.g. vipctl) by their own keys, each
 * pinned to its identity. An existing auth.json is never touched.
 */
export async function writeInitialAuth(options: {
  readonly authFile: AuthFile;
  readonly vipHome: string;
  readonly platformPublicKey: string;
  readonly logger: Logger;
}): Promise<boolean> {
  const { authFile, vipHome, platformPublicKey, logger } = options;
  const exists = await access(authFile.path).then(
    () => true,
    () => false,
  );
  if (exists) return false;
  const entries: AuthEntryInput[] = [
    {
      credentials: platformPublicKey,
      user_id: 'platform',
      capabilities: { edit_config_store: { identity: '/.*/' }, [MANAGE_PLATFORM_STATS]: null, [READ_USER_CAPABILITIES]: null },
      comments: 'Automatically added by platform on start',
    },
  ];
  for (const identity of LOCAL_SERVICE_IDENTITIES) {
    const pair = await KeyStore.agent(vipHome, identity, { logger }).loadOrCreate();
    entries.push({
      credentials: pair.public,
      user_id: identity,
      identity,
      capabilities: CONTROL_CAPABILITIES,
      comments: 'Automatically added by platform on start',
    });
  }
  for (const entry of entries) await authFile.add(entry);
  logger.info('auth.created', { path: authFile.path, entries: entries.length });
  return true;
}
