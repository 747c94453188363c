import type { AuthRules } from '@vip/auth';
import type { Capabilities, CapabilityMap } from '@vip/protocol';

/** user id -> capabilities (@vip/protocol's model), the body of `get_user_to_capabilities` and of `auth.update`. */
export type UserToCapabilities = CapabilityMap;

/** `get_authorizations(user_id)`: VOLTTRON's `[capabilities, groups, roles]`, or null for an unknown user. */
export type Authorizations = [Capabilities, string[], string[]];

/**
 * The map VOLTTRON 9's AuthService answers in `get_user_to_capabilities`: every enabled allow
 * entry's user id with its effective capabilities (its own, its roles' and its groups' roles').
 * The first entry of a user id wins, as in authentication.
 */
export function userToCapabilities(rules: AuthRules): UserToCapabilities {
  return Object.fromEntries(rules.capabilitiesByUser());
}

/**
 * `get_authorizations(user_id)`: the capabilities (the same as `get_user_to_capabilities` holds
 * for that user), groups and roles of the first enabled allow entry with that user id; null
 * when there is none.
 */
export function authorizationsOf(rules: AuthRules, userId: string): Authorizations | null {
  const found = rules.allow.find((e) => e.entry.enabled && e.entry.user_id === userId);
  if (!found) return null;
  return [found.capabilities, [...found.entry.groups], [...found.entry.roles]];
}
