import { z } from 'zod';
import { normaliseCapabilities, type Capabilities } from '@vip/protocol';
import { AuthEntrySchema, compileAuthEntry } from './auth-entry.js';
import type { AuthEntry, CompiledAuthEntry } from './auth-entry.js';

/** The auth.json format version this code reads and writes (VOLTTRON 9: 1.4). */
export const AUTH_FILE_VERSION = { major: 1, minor: 4 } as const;

const NameMapSchema = (what: string) =>
  z
    .union([z.record(z.string(), z.array(z.string())), z.null()], { error: `${what} must be an object {name: [..]}` })
    .optional()
    .transform((v) => v ?? {});

/**
 * The whole auth.json. The file is accepted or refused as a whole: one bad entry refuses the
 * file (and the previous rules stay in force), because silently skipping a typo'd *deny* entry
 * would open the platform to the key it was meant to keep out.
 */
export const AuthFileSchema = z.looseObject({
  allow: z
    .union([z.array(AuthEntrySchema), z.null()], { error: 'allow must be a list of entries' })
    .optional()
    .transform((v) => v ?? []),
  deny: z
    .union([z.array(AuthEntrySchema), z.null()], { error: 'deny must be a list of entries' })
    .optional()
    .transform((v) => v ?? []),
  groups: NameMapSchema('groups'),
  roles: NameMapSchema('roles'),
  version: z
    .object({ major: z.number().int(), minor: z.number().int() })
    .optional()
    .superRefine((v, ctx) => {
      if (v === undefined) return;
      if (v.major > AUTH_FILE_VERSION.major) {
        ctx.addIssue({ code: 'custom', message: `version ${v.major}.${v.minor} is newer than this platform reads (1.4)` });
      } else if (v.major < 1) {
        ctx.addIssue({ code: 'custom', message: `version ${v.major}.${v.minor} predates 1.0; upgrade the file with VOLTTRON first` });
      }
    }),
});
export type AuthFileData = z.output<typeof AuthFileSchema>;

/** Non-regex credentials are tried before regex ones (VOLTTRON sorts entries this way). */
function exactFirst(entries: CompiledAuthEntry[]): CompiledAuthEntry[] {
  return [...entries.filter((e) => !e.regexCredentials), ...entries.filter((e) => e.regexCredentials)];
}

/**
 * A compiled, immutable snapshot of auth.json: allow and deny entries in match order, each with
 * its effective capabilities (its own plus those of its roles and its groups' roles).
 */
export class AuthRules {
  readonly allow: readonly CompiledAuthEntry[];
  readonly deny: readonly CompiledAuthEntry[];
  readonly groups: Readonly<Record<string, readonly string[]>>;
  readonly roles: Readonly<Record<string, readonly string[]>>;
  #byUser?: ReadonlyMap<string, Capabilities>;

  constructor(data: Pick<AuthFileData, 'allow' | 'deny' | 'groups' | 'roles'>) {
    this.groups = data.groups;
    this.roles = data.roles;
    this.allow = exactFirst(data.allow.map((e) => compileAuthEntry(e, this.resolveCapabilities(e))));
    this.deny = exactFirst(data.deny.map((e) => compileAuthEntry(e, this.resolveCapabilities(e))));
  }

  static empty(): AuthRules {
    return new AuthRules({ allow: [], deny: [], groups: {}, roles: {} });
  }

  /** The entry's own capabilities plus those granted by its roles and its groups' roles. */
  resolveCapabilities(entry: Pick<AuthEntry, 'capabilities' | 'roles' | 'groups'>): Capabilities {
    const roles = new Set(entry.roles);
    for (const group of entry.groups) for (const role of this.groups[group] ?? []) roles.add(role);
    const granted: string[] = [];
    for (const role of roles) granted.push(...(this.roles[role] ?? []));
    return normaliseCapabilities(granted, { ...entry.capabilities });
  }

  /** user_id -> effective capabilities of every enabled allow entry (protected topics, RPC checks). */
  capabilitiesByUser(): ReadonlyMap<string, Capabilities> {
    if (!this.#byUser) {
      const map = new Map<string, Capabilities>();
      for (const e of this.allow) if (e.entry.enabled && !map.has(e.entry.user_id)) map.set(e.entry.user_id, e.capabilities);
      this.#byUser = map;
    }
    return this.#byUser;
  }
}
