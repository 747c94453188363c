import { capabilityRefusal, type Capabilities } from '@vip/protocol';
import type { UserToCapabilities } from './user-capabilities.js';

/** The capability that lets a user read every user's capabilities (`get_user_to_capabilities`, `auth.update`). */
export const READ_USER_CAPABILITIES = 'read_user_capabilities';

/**
 * Who sees the whole user -> capabilities map (`--capability-map-access`):
 * - `all`: every peer, as VOLTTRON 9 does;
 * - `restricted` (default): users holding `read_user_capabilities` (agents that check other
 *   agents' calls with `allow`); every other peer sees its own entry and the platform's service
 *   users' (what VOLTTRON agents check at start: `config.store` calling `config.initial_update`).
 */
export type CapabilityMapAccess = 'all' | 'restricted';
export const CAPABILITY_MAP_ACCESS = ['all', 'restricted'] as const;
export const DEFAULT_CAPABILITY_MAP_ACCESS: CapabilityMapAccess = 'restricted';

/**
 * The part of `map` a peer proven as `user` (undefined: unknown) may see under `access`;
 * `platformUsers` are the users of the platform's own keys and services.
 */
export function visibleCapabilities(
  map: UserToCapabilities,
  user: string | undefined,
  access: CapabilityMapAccess,
  platformUsers: ReadonlySet<string>,
): UserToCapabilities {
  if (access === 'all') return map;
  const own = user !== undefined && Object.hasOwn(map, user) ? map[user] : undefined;
  if (own !== undefined && capabilityRefusal(own, [READ_USER_CAPABILITIES]) === undefined) return map;
  const out: Record<string, Capabilities> = {};
  for (const u of platformUsers) if (Object.hasOwn(map, u)) out[u] = map[u] as Capabilities;
  if (user !== undefined && own !== undefined) out[user] = own;
  return out;
}
