import type { AuthMechanism, Capabilities } from '@vip/protocol';
import type { CompiledAuthEntry } from './auth-entry.js';
import { AuthRules } from './auth-rules.js';

/**
 * The ZAP domain VOLTTRON's router sets before binding its external addresses: the `domain` of
 * the requests auth.json entries are matched against.
 */
export const VIP_ZAP_DOMAIN = 'vip';

/** What authentication looks at in a ZAP request (credential already in text form). */
export interface AuthRequest {
  readonly domain: string;
  readonly address: string;
  readonly mechanism: AuthMechanism;
  /** CURVE: 43-char base64url public key; PLAIN: user name; NULL: ''. */
  readonly credential: string;
}

export type AuthDecision =
  | {
      readonly admit: true;
      readonly userId: string;
      /** The allow entry that matched; absent for the same-uid ipc fallback. */
      readonly entry?: CompiledAuthEntry;
      readonly identity?: string;
      readonly capabilities: Capabilities;
    }
  | { readonly admit: false; readonly reason: 'denied' | 'unknown'; readonly entry?: CompiledAuthEntry };

export interface AuthenticatorOptions {
  /**
   * Admit NULL over ipc from a process of the platform's own uid (ZAP address
   * `localhost:<uid>:<gid>:<pid>`), as VOLTTRON does: such a process can read the platform's
   * keys anyway, so CURVE would add nothing. Default true; set false to require an entry.
   */
  readonly trustSameUidIpc?: boolean;
  /** The platform's uid (default `process.getuid()`). */
  readonly uid?: number;
}

/** VOLTTRON's `dump_user`: comma-joined fields with `,` and `\` escaped by a backslash. */
export function composeUserId(...fields: readonly string[]): string {
  return fields.map((f) => f.replace(/([,\\])/g, '\\$1')).join(',');
}

/**
 * Decides a ZAP request against the latest rules (docs/protocol.md 5.4): a matching enabled deny
 * entry refuses; otherwise the first matching enabled allow entry (exact credentials before
 * regex ones) admits with its `user_id`; otherwise NULL over same-uid ipc is admitted (see
 * `trustSameUidIpc`); otherwise refused. PLAIN entries match the user name only (credentials
 * frame 0), as in VOLTTRON: the password is not checked, so PLAIN is no protection on its own.
 */
export class Authenticator {
  #rules: AuthRules;
  readonly #trustSameUidIpc: boolean;
  readonly #uid: number | undefined;

  constructor(rules: AuthRules = AuthRules.empty(), options: AuthenticatorOptions = {}) {
    this.#rules = rules;
    this.#trustSameUidIpc = options.trustSameUidIpc ?? true;
    this.#uid = options.uid ?? process.getuid?.();
  }

  get rules(): AuthRules {
    return this.#rules;
  }

  /** Swaps in new rules; the next decision uses them. */
  setRules(rules: AuthRules): void {
    this.#rules = rules;
  }

  authenticate(request: AuthRequest): AuthDecision {
    const rules = this.#rules;
    const denied = rules.deny.find((e) => e.matches(request));
    if (denied) return { admit: false, reason: 'denied', entry: denied };
    const allowed = rules.allow.find((e) => e.matches(request));
    if (allowed) {
      return {
        admit: true,
        userId: allowed.entry.user_id,
        entry: allowed,
        capabilities: allowed.capabilities,
        ...(allowed.entry.identity !== null ? { identity: allowed.entry.identity } : {}),
      };
    }
    if (this.#trustSameUidIpc && request.mechanism === 'NULL' && this.#isSameUidIpc(request.address)) {
      return { admit: true, userId: composeUserId(request.domain, request.address, 'NULL'), capabilities: {} };
    }
    return { admit: false, reason: 'unknown' };
  }

  #isSameUidIpc(address: string): boolean {
    if (this.#uid === undefined) return false;
    const match = /^(?:localhost)?:(\d+):(\d+):(\d+)$/.exec(address);
    return match !== null && Number(match[1]) === this.#uid;
  }
}
