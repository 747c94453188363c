import { ConfigError, type Capabilities, type CurveKeyPair, type Logger } from '@vip/protocol';
import { KeyStore, type AuthFile } from '@vip/auth';

/** The AuthService's identity (VOLTTRON's `AUTH` constant); agents ask it for capabilities. */
export const AUTH_SERVICE_IDENTITY = 'platform.auth';

/** What VOLTTRON's `main.py` grants `platform.auth` in auth.json (docs/protocol.md 5.5). */
export const AUTH_SERVICE_CAPABILITIES = { modify_rpc_method_allowance: null };

/**
 * A local service's key pair (`keystores/<identity>/keystore.json`, created on first use) and its
 * auth.json entry, pinned to its identity. The entry is added when no allow entry has that key, so
 * an auth.json written before the service existed gains it too; an existing entry is never
 * touched. Returns the key pair and whether auth.json changed (the caller then reloads it).
 */
export async function ensureServiceEntry(options: {
  readonly authFile: AuthFile;
  readonly vipHome: string;
  readonly identity: string;
  readonly capabilities: Capabilities;
  readonly logger: Logger;
}): Promise<{ readonly keys: CurveKeyPair; readonly added: boolean }> {
  const { authFile, vipHome, identity, logger } = options;
  const keys = await KeyStore.agent(vipHome, identity, { logger }).loadOrCreate();
  const { allow } = await authFile.list();
  if (allow.some((e) => e.credentials?.includes(keys.public) ?? false)) return { keys, added: false };
  const clash = allow.findIndex((e) => e.user_id === identity);
  if (clash >= 0) {
    throw new ConfigError(
      `${authFile.path}: allow entry ${clash} has user_id ${identity} but not the service's key; set its credentials to ${keys.public} or remove it`,
    );
  }
  await authFile.add({
    credentials: keys.public,
    user_id: identity,
    identity,
    capabilities: { ...options.capabilities },
    comments: 'Automatically added by platform on start',
  });
  logger.info('auth.service.entry.added', { path: authFile.path, user_id: identity });
  return { keys, added: true };
}

/** `platform.auth`'s key pair and auth.json entry (see `ensureServiceEntry`). */
export function ensureAuthServiceEntry(options: {
  readonly authFile: AuthFile;
  readonly vipHome: string;
  readonly logger: Logger;
}): Promise<{ readonly keys: CurveKeyPair; readonly added: boolean }> {
  return ensureServiceEntry({ ...options, identity: AUTH_SERVICE_IDENTITY, capabilities: AUTH_SERVICE_CAPABILITIES });
}
