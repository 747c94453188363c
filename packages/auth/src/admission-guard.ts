import type { AuthRules } from './auth-rules.js';
import { Authenticator, VIP_ZAP_DOMAIN } from './authenticator.js';

/**
 * Checks new auth.json rules against the rules in force before the watcher applies them; a
 * returned text refuses them (the rules in force stay; the text is logged and kept as `lastError`).
 */
export type AuthRulesGuard = (next: AuthRules, current: AuthRules) => string | undefined | Promise<string | undefined>;

/** A CURVE key whose admission must survive every reload, and what to call it in the refusal. */
export interface KeptKey {
  /** 43-char base64url public key. */
  readonly publicKey: string;
  readonly name: string;
}

/** What the probe looks like to the rules: a CURVE client on loopback in the VIP domain. */
const probe = (publicKey: string) => ({ domain: VIP_ZAP_DOMAIN, address: '127.0.0.1', mechanism: 'CURVE' as const, credential: publicKey });

/**
 * A guard that refuses a file which stops admitting any of `keys` the rules in force admit, or
 * admits it under another user id or identity: such a file (`{}`, an empty file from a truncated
 * write, a hand edit that lost the platform's entries) would lock the platform's own services out
 * (control, vipctl, platform.auth). Keys the rules in force do not admit are not held to it, so
 * the first load, and services whose entry does not exist yet, pass.
 */
export function keepAdmitting(keys: () => readonly KeptKey[] | Promise<readonly KeptKey[]>): AuthRulesGuard {
  return async (next, current) => {
    const before = new Authenticator(current, { trustSameUidIpc: false });
    const after = new Authenticator(next, { trustSameUidIpc: false });
    const lost: string[] = [];
    for (const key of await keys()) {
      const was = before.authenticate(probe(key.publicKey));
      if (!was.admit) continue;
      const now = after.authenticate(probe(key.publicKey));
      if (!now.admit) lost.push(`${key.name} (user ${JSON.stringify(was.userId)}) is no longer admitted`);
      else if (now.userId !== was.userId || now.identity !== was.identity) {
        lost.push(
          `${key.name} would be admitted as user ${JSON.stringify(now.userId)} identity ${JSON.stringify(now.identity ?? null)} instead of ${JSON.stringify(was.userId)} ${JSON.stringify(was.identity ?? null)}`,
        );
      }
    }
    if (lost.length === 0) return undefined;
    return `it drops the platform's own entries: ${lost.join('; ')} (a truncated or emptied file?); the rules in force stay`;
  };
}
