import type { ReservationTable } from '@vip/router';
import type { AuthRules } from '@vip/auth';

/**
 * The identities of the platform's services, ours and VOLTTRON's (`known_identities.py`), whether
 * this platform runs them or not: agents trust what comes from them by identity (`auth.update`
 * from `platform.auth`, `config.initial_update` from `config.store`...), so no admitted agent may
 * take one unless its auth entry pins it to that identity.
 */
export const PLATFORM_SERVICE_IDENTITIES = [
  'platform.auth',
  'control',
  'control.connection',
  'config.store',
  'platform.health',
  'pubsub',
  'platform.web',
  'keydiscovery',
  'zmq.proxy.router',
  'platform',
  'router',
] as const;

/**
 * ZeroMQ: each service identity may be held only by the users of the enabled auth.json entries
 * that pin it (`identity`), e.g. `platform.auth` by the user of the service's own key. An
 * identity no entry pins is closed to every agent.
 */
export function pinnedServiceUsers(rules: AuthRules): ReservationTable {
  const table = new Map<string, string[]>(PLATFORM_SERVICE_IDENTITIES.map((identity) => [identity, []]));
  for (const { entry } of rules.allow) {
    if (entry.enabled && entry.identity !== null) table.get(entry.identity)?.push(entry.user_id);
  }
  return table;
}

/**
 * RabbitMQ: each service identity may be held only by the broker user of that identity,
 * `<instance>.<identity>` (the user the router hands over for its messages).
 */
export function brokerServiceUsers(instanceName: string): ReservationTable {
  return Object.fromEntries(PLATFORM_SERVICE_IDENTITIES.map((identity) => [identity, [`${instanceName}.${identity}`]]));
}

/**
 * The users of the platform's own keys and services: the users of the entries pinned to a
 * service identity and of the entries holding the platform's public key (vipctl's, `platform`).
 * Every peer may see their capabilities (`get_user_to_capabilities` under `restricted` access).
 */
export function platformUsers(rules: AuthRules, platformPublicKey: string): Set<string> {
  const services = new Set<string>(PLATFORM_SERVICE_IDENTITIES);
  const users = new Set<string>();
  for (const { entry } of rules.allow) {
    if (!entry.enabled) continue;
    if ((entry.identity !== null && services.has(entry.identity)) || (entry.credentials ?? []).includes(platformPublicKey))
      users.add(entry.user_id);
  }
  return users;
}
