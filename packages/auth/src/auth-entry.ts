import { createHash } from 'node:crypto';
import { AUTH_MECHANISMS, isRegexText, wholeValueRegex, type AuthMechanism, type Capabilities } from '@vip/protocol';
import { CapabilitiesSchema } from '@vip/protocol/internal';
import { z } from 'zod';

/**
 * One auth.json entry in VOLTTRON's format (docs/protocol.md 5.5, `auth_entry.py`), validated with zod
 * and compiled for matching. Unknown keys are tolerated (VOLTTRON ignores them too).
 */

const CURVE_KEY_TEXT = /^[A-Za-z0-9_-]{43}$/;

function regexProblem(value: string): string | undefined {
  if (!isRegexText(value)) return undefined;
  try {
    wholeValueRegex(value);
    return undefined;
  } catch (err) {
    return `invalid regular expression ${value}: ${(err as Error).message}`;
  }
}

/** A string or a list of strings; empty / null means "any" (VOLTTRON `_build_field`). */
const PatternFieldSchema = z
  .union([z.string(), z.array(z.string()), z.null()])
  .optional()
  .superRefine((value, ctx) => {
    for (const v of typeof value === 'string' ? [value] : (value ?? [])) {
      const problem = regexProblem(v);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }
  })
  .transform((value): string[] | null => {
    if (value === null || value === undefined || value === '') return null;
    const list = typeof value === 'string' ? [value] : value.filter((v) => v !== '');
    return list.length > 0 ? list : null;
  });

const NameListSchema = z
  .union([z.string(), z.array(z.string()), z.null()])
  .optional()
  .transform((value): string[] =>
    value === null || value === undefined || value === '' ? [] : typeof value === 'string' ? [value] : value,
  );

export const MechanismSchema = z.enum(AUTH_MECHANISMS, { error: 'mechanism must be "NULL", "PLAIN" or "CURVE"' });

export const AuthEntrySchema = z
  .looseObject({
    domain: PatternFieldSchema,
    address: PatternFieldSchema,
    mechanism: z
      .union([MechanismSchema, z.null()])
      .optional()
      .transform((m): AuthMechanism => m ?? 'CURVE'),
    credentials: PatternFieldSchema,
    user_id: z.union([z.string(), z.null()]).optional(),
    identity: z
      .union([z.string(), z.null()])
      .optional()
      .transform((v) => v ?? null),
    groups: NameListSchema,
    roles: NameListSchema,
    capabilities: CapabilitiesSchema,
    rpc_method_authorizations: z
      .union([z.record(z.string(), z.array(z.string())), z.null()], {
        error: 'rpc_method_authorizations must be an object {method: [capability, ...]}',
      })
      .optional()
      .transform((v) => v ?? {}),
    comments: z
      .union([z.string(), z.null()])
      .optional()
      .transform((v) => v || null),
    enabled: z.boolean().optional().default(true),
  })
  .superRefine((entry, ctx) => {
    if (entry.mechanism === 'NULL') return;
    if (entry.credentials === null) {
      ctx.addIssue({ code: 'custom', path: ['credentials'], message: `credentials are required for mechanism ${entry.mechanism}` });
      return;
    }
    if (entry.mechanism !== 'CURVE') return;
    for (const c of entry.credentials) {
      if (!isRegexText(c) && !CURVE_KEY_TEXT.test(c)) {
        ctx.addIssue({
          code: 'custom',
          path: ['credentials'],
          message: `a CURVE credential is a 43-character base64url public key or a /regex/, got ${JSON.stringify(c.slice(0, 60))}`,
        });
      }
    }
  })
  .transform((entry) => ({ ...entry, user_id: entry.user_id || derivedUserId(entry) }));

/**
 * The user id of an entry written without one. VOLTTRON draws a fresh uuid4 on every load, so the
 * id (and the capability map keyed by it) would change on each reload; this one is a uuid-shaped
 * hash of what the entry matches, the same on every load until the entry is written back.
 */
function derivedUserId(entry: {
  domain: string[] | null;
  address: string[] | null;
  mechanism: string;
  credentials: string[] | null;
}): string {
  const hex = createHash('sha256')
    .update(JSON.stringify([entry.domain, entry.address, entry.mechanism, entry.credentials]))
    .digest('hex');
  const variant = ((parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** An entry as read from the file (validated, defaults filled, capabilities normalised). */
export type AuthEntry = z.output<typeof AuthEntrySchema>;
/** What callers pass to create an entry (the file's shape; only credentials are usually needed). */
export type AuthEntryInput = z.input<typeof AuthEntrySchema>;

/** An exact string or a whole-string regex (VOLTTRON's `String.match`). */
type Matcher = (value: string) => boolean;

function compilePattern(values: readonly string[] | null): Matcher | null {
  if (values === null) return null;
  const tests = values.map((v): Matcher => {
    if (!isRegexText(v)) return (x) => x === v;
    const re = wholeValueRegex(v);
    return (x) => re.test(x);
  });
  return (x) => tests.some((t) => t(x));
}

/** An entry ready for matching, with its effective capabilities (own + roles + groups). */
export interface CompiledAuthEntry {
  readonly entry: AuthEntry;
  readonly capabilities: Capabilities;
  /** True when any credential is a regex (such entries are tried after exact ones). */
  readonly regexCredentials: boolean;
  matches(request: { readonly domain: string; readonly address: string; readonly mechanism: string; readonly credential: string }): boolean;
}

export function compileAuthEntry(entry: AuthEntry, capabilities: Capabilities): CompiledAuthEntry {
  const domain = compilePattern(entry.domain);
  const address = compilePattern(entry.address);
  const credentials = compilePattern(entry.credentials);
  return {
    entry,
    capabilities,
    regexCredentials: (entry.credentials ?? []).some(isRegexText),
    matches: (r) =>
      entry.enabled &&
      (domain === null || domain(r.domain)) &&
      (address === null || address(r.address)) &&
      entry.mechanism === r.mechanism &&
      (entry.mechanism === 'NULL' || (credentials !== null && credentials(r.credential))),
  };
}

/** The entry as it is written back to auth.json (VOLTTRON's field set, unknown keys kept). */
export function serialiseAuthEntry(entry: AuthEntry): Record<string, unknown> {
  const single = (v: string[] | null) => (v === null ? null : v.length === 1 ? v[0] : v);
  return {
    ...entry,
    domain: single(entry.domain),
    address: single(entry.address),
    credentials: single(entry.credentials),
  };
}
