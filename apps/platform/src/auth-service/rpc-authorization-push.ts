import type { Agent } from '@vip/agent';
import type { AuthRules } from '@vip/auth';
import type { Logger } from '@vip/protocol';
import { PLATFORM_SERVICE_IDENTITIES } from '../service-identities.js';

/** How long an agent has to apply its new RPC authorizations (VOLTTRON waits 4 s). */
const APPLY_TIMEOUT_MS = 4_000;

/**
 * The agents whose `rpc_method_authorizations` differ between two loads of auth.json (VOLTTRON's
 * `_get_updated_entries`): entries with an identity that is none of the platform's services,
 * changed or new, each with its methods that name at least one capability.
 */
export function changedRpcAuthorizations(before: AuthRules, after: AuthRules): Map<string, Record<string, string[]>> {
  const services = new Set<string>(PLATFORM_SERVICE_IDENTITIES);
  const old = new Map<string, string>();
  for (const { entry } of before.allow)
    if (entry.identity !== null) old.set(entry.identity, JSON.stringify(entry.rpc_method_authorizations));
  const out = new Map<string, Record<string, string[]>>();
  for (const { entry } of after.allow) {
    if (entry.identity === null || services.has(entry.identity)) continue;
    if (old.get(entry.identity) === JSON.stringify(entry.rpc_method_authorizations)) continue;
    const methods = Object.fromEntries(Object.entries(entry.rpc_method_authorizations).filter(([, caps]) => caps.length > 0));
    if (Object.keys(methods).length > 0) out.set(entry.identity, methods);
  }
  return out;
}

/**
 * After auth.json changed, tells each running agent whose RPC authorizations changed to apply them
 * (`auth.set_multiple_rpc_authorizations`, as VOLTTRON's AuthService does). Never rejects: an
 * agent that is absent, refuses or is slow is logged.
 */
export async function pushRpcAuthorizations(agent: Agent, before: AuthRules, after: AuthRules, logger: Logger): Promise<void> {
  const changed = changedRpcAuthorizations(before, after);
  await Promise.all(
    [...changed].map(async ([identity, methods]) => {
      try {
        await agent.rpc.request(identity, 'auth.set_multiple_rpc_authorizations', {
          kwargs: { rpc_authorizations: methods },
          timeoutMs: APPLY_TIMEOUT_MS,
        });
        logger.info('auth.rpc_authorizations.pushed', { identity, methods: Object.keys(methods).length });
      } catch (err) {
        logger.debug('auth.rpc_authorizations.push.failed', { identity }, err);
      }
    }),
  );
}
